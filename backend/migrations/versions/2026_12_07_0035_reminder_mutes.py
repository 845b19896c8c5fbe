"""Personal reminder mutes: a person turns a kind of reminder off for themselves, in one organization.

``reminder_mutes (org_id, user_id, kind)``: one row per muted kind (a rule's kind, ``task_reminder`` or
``event_reminder``). The evaluator reads the organization's rows (tenant policy: the worker binds only
the organization) and skips a muted person for that kind, mail and notification alike; the service only
ever reads and writes the caller's own rows.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from backend.core.rls import tenant_rls

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = (
    "('no_time_logged', 'timer_running', 'timesheet_not_submitted', 'approval_waiting', 'task_reminder',"
    " 'event_reminder')"
)


def upgrade(runtime_role: str) -> None:
    owner = op.get_bind().execute(sa.text("SELECT current_user")).scalar_one()
    op.create_table(
        "reminder_mutes",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "user_id", "kind"),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.CheckConstraint(f"kind IN {KINDS}", name="kind"),
    )
    for statement in tenant_rls("reminder_mutes", maintenance_role=owner):
        op.execute(statement)
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON reminder_mutes TO {runtime_role}")


def downgrade(runtime_role: str) -> None:  # noqa: ARG001
    op.drop_table("reminder_mutes")
