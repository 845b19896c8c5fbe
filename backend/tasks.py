"""Every actor, imported once so a worker (``backend worker``) registers them all."""

import backend.models  # noqa: F401  (the whole schema, so relationships between tables resolve)
from backend.core import mail
from backend.diagnostics import tasks as diagnostics_tasks
from backend.exports import tasks as export_tasks
from backend.members import tasks as member_tasks
from backend.orgs import tasks as org_tasks
from backend.reminders import tasks as reminder_tasks
from backend.tenancy import mirror as tenancy_mirror
from backend.tracking import tasks as tracking_tasks
from backend.webhooks import tasks as webhook_tasks

__all__ = [
    "diagnostics_tasks",
    "export_tasks",
    "mail",
    "member_tasks",
    "org_tasks",
    "reminder_tasks",
    "tenancy_mirror",
    "tracking_tasks",
    "webhook_tasks",
]
