"""The reminder evaluation job: every worker's scheduler offers it each ``reminder_interval_seconds``
(backend/worker.py); a Redis lease lets one through per interval, and the notifications' unique key makes
an overlapping or repeated run send nothing twice."""

from __future__ import annotations

from backend.core import jobs
from backend.core.worker import worker_database
from backend.reminders import service


@jobs.actor(max_retries=0, time_limit=600_000)
async def evaluate_reminders() -> None:
    await service.evaluate(worker_database())
