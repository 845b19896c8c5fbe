"""The audit anchor job: every worker's scheduler offers it each ``audit_anchor_interval_seconds``
(backend/worker.py); a Redis lease lets one through per interval, and an organization whose head has not
moved since its last anchor gets no new one, so an overlapping or repeated run writes nothing twice."""

from __future__ import annotations

from backend.core import jobs
from backend.core.worker import worker_database
from backend.orgs import service


@jobs.actor(max_retries=0, time_limit=600_000)
async def anchor_audit_heads() -> None:
    await service.anchor_all(worker_database())
