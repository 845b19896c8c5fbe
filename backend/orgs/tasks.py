"""The audit anchor job: every worker's scheduler offers it each ``audit_anchor_interval_seconds``
(backend/worker.py); a Redis lease lets one through per interval, and an organization whose head has not
moved since its last anchor gets no new one, so an overlapping or repeated run writes nothing twice."""

from __future__ import annotations

import uuid

from backend.core import jobs
from backend.core.worker import worker_database
from backend.orgs import offboarding, service


@jobs.actor(max_retries=0, time_limit=600_000)
async def anchor_audit_heads() -> None:
    await service.anchor_all(worker_database())


@jobs.actor(max_retries=3, min_backoff=5_000, time_limit=6 * 3_600_000)
async def run_offboarding_export(org_id: str, export_id: str) -> None:
    """An owner's full-data export (backend/orgs/offboarding.py); a done one is never made twice."""
    await offboarding.run_export(uuid.UUID(org_id), uuid.UUID(export_id))


@jobs.actor(max_retries=0, time_limit=6 * 3_600_000)
async def purge_offboarded_organizations() -> None:
    """The scheduled tick: purge organizations whose grace period is over, resume interrupted purges.
    Idempotent: an overlapping run finds each purge locked or done."""
    await offboarding.purge_due()
