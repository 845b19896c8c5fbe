"""The one import root for every table, so Alembic and tests see the whole schema."""

from backend.core.audit import AuditEvent
from backend.diagnostics.models import Ping
from backend.tenancy.models import Client, Membership, Organization, Project, ProjectMembership, User
from backend.work.models import Comment, Task, TaskAssignee

__all__ = [
    "AuditEvent",
    "Client",
    "Comment",
    "Membership",
    "Organization",
    "Ping",
    "Project",
    "ProjectMembership",
    "Task",
    "TaskAssignee",
    "User",
]
