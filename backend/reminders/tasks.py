"""The reminder evaluation job: every worker's scheduler offers it each ``reminder_interval_seconds``
(backend/worker.py); a Redis lease lets one through per interval, and the notifications' unique key makes
an overlapping or repeated run send nothing twice. The same tick starts the due scheduled exports (once
per schedule and period, by the run table's key); ``mail_scheduled_export`` mails a finished one."""

from __future__ import annotations

import uuid

from backend.core import jobs
from backend.core.worker import worker_database
from backend.reminders import schedules, service


@jobs.actor(max_retries=0, time_limit=600_000)
async def evaluate_reminders() -> None:
    db = worker_database()
    await service.evaluate(db)
    await schedules.start_due(db)


@jobs.actor(max_retries=5, min_backoff=2000, time_limit=120_000)
async def mail_scheduled_export(org_id: str, export_id: str) -> None:
    """Sent by the export job when an export is done (exports.tasks.COMPLETED_FOLLOW_UP): the recipients'
    mail if it was a scheduled export's, once (the run row is marked mailed with the mail queued)."""
    await schedules.mail_run(worker_database(), uuid.UUID(org_id), uuid.UUID(export_id))
