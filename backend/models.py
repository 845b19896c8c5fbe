"""The one import root for every table, so Alembic and tests see the whole schema."""

from backend.core.audit import AuditEvent
from backend.diagnostics.models import Ping
from backend.identity.models import User
from backend.orgs.models import Membership, Organization
from backend.projects.models import Project, ProjectMembership

__all__ = ["AuditEvent", "Membership", "Organization", "Ping", "Project", "ProjectMembership", "User"]
