"""The one import root for every table, so Alembic and tests see the whole schema."""

from backend.core.audit import AuditEvent
from backend.core.outbox import OutboxMessage
from backend.decisions.models import Decision
from backend.diagnostics.models import Ping
from backend.events.models import Event, EventAttendee, EventCancellation
from backend.exports.models import Export, ExportSettings, SigningKey
from backend.integrations.models import Integration
from backend.notes.models import Note, NoteShare
from backend.orgs.models import OffboardingExport, OrgDeletion
from backend.reminders.models import ExportSchedule, ExportScheduleRun, Notification, ReminderMute, ReminderRule
from backend.reports.models import MemberCapacity, ReportShareLink, SavedReport
from backend.scim.models import ScimGroup, ScimGroupMember, ScimToken
from backend.sso.models import SsoDomain, SsoProvider, SsoRoleMapping, SsoSettings
from backend.tenancy.models import Client, Membership, Organization, Project, ProjectMembership, User
from backend.tenancy.tokens import PersonalToken
from backend.tracking.models import (
    MemberTimeZone,
    ProjectBurnDay,
    TimeEntry,
    TimeEntryCorrection,
    TimeImport,
    TimeRate,
    TimeSettings,
    Timesheet,
    TimeTag,
)
from backend.webhooks.models import WebhookDelivery, WebhookEndpoint
from backend.work.models import Attachment, Comment, Task, TaskAssignee
from backend.worktime.models import Absence, Holiday, HolidayCalendar, WorkContract

__all__ = [
    "Absence",
    "Attachment",
    "AuditEvent",
    "Client",
    "Comment",
    "Decision",
    "Event",
    "EventAttendee",
    "EventCancellation",
    "Export",
    "ExportSchedule",
    "ExportScheduleRun",
    "ExportSettings",
    "Holiday",
    "HolidayCalendar",
    "Integration",
    "MemberCapacity",
    "MemberTimeZone",
    "Membership",
    "Note",
    "NoteShare",
    "Notification",
    "OffboardingExport",
    "OrgDeletion",
    "Organization",
    "OutboxMessage",
    "PersonalToken",
    "Ping",
    "Project",
    "ProjectBurnDay",
    "ProjectMembership",
    "ReminderMute",
    "ReminderRule",
    "ReportShareLink",
    "SavedReport",
    "ScimGroup",
    "ScimGroupMember",
    "ScimToken",
    "SigningKey",
    "SsoDomain",
    "SsoProvider",
    "SsoRoleMapping",
    "SsoSettings",
    "Task",
    "TaskAssignee",
    "TimeEntry",
    "TimeEntryCorrection",
    "TimeImport",
    "TimeRate",
    "TimeSettings",
    "TimeTag",
    "Timesheet",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WorkContract",
]
