"""The one import root for every table, so Alembic and tests see the whole schema."""

from backend.core.audit import AuditEvent
from backend.diagnostics.models import Ping
from backend.tenancy.models import Membership, Organization, Project, ProjectMembership, User
from backend.tracking.models import (
    MemberTimeZone,
    TimeEntry,
    TimeEntryCorrection,
    TimeImport,
    TimeRate,
    TimeSettings,
    Timesheet,
    TimeTag,
)

__all__ = [
    "AuditEvent",
    "MemberTimeZone",
    "Membership",
    "Organization",
    "Ping",
    "Project",
    "ProjectMembership",
    "TimeEntry",
    "TimeEntryCorrection",
    "TimeImport",
    "TimeRate",
    "TimeSettings",
    "TimeTag",
    "Timesheet",
    "User",
]
