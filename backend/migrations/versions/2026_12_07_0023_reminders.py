"""Reminders: per-organization reminder rules, and the notifications they send (in-app and by email).

``reminder_rules`` (admins manage them): a kind (``no_time_logged``, ``timer_running``,
``timesheet_not_submitted``, ``approval_waiting``), the local time and ISO weekdays it is checked on (by
each person's own time zone), and for running timers the number of hours that counts as too long.

``notifications``: one row per reminder sent, unique per (organization, rule, person, period), so the
evaluator's second look at the same period inserts nothing and sends nothing. The person reads their
own rows across organizations (``user_id = app_current_user()``); rows are written inside their
organization with the person bound too.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from backend.core.rls import CURRENT_ORG, CURRENT_USER, command_rls, tenant_rls

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = "('no_time_logged', 'timer_running', 'timesheet_not_submitted', 'approval_waiting')"


def upgrade(runtime_role: str) -> None:
    owner = op.get_bind().execute(sa.text("SELECT current_user")).scalar_one()
    op.create_table(
        "reminder_rules",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("local_time", sa.Time, nullable=False),
        sa.Column("weekdays", ARRAY(sa.SmallInteger), nullable=False),
        sa.Column("hours", sa.SmallInteger),
        sa.Column("created_by", UUID(as_uuid=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id"),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.CheckConstraint(f"kind IN {KINDS}", name="kind"),
        sa.CheckConstraint("weekdays <@ ARRAY[1, 2, 3, 4, 5, 6, 7]::smallint[]", name="weekdays"),
        sa.CheckConstraint("hours IS NULL OR hours BETWEEN 1 AND 168", name="hours"),
    )
    op.create_table(
        "notifications",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("rule_id", UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("period", sa.String(64), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("link", sa.String(2000), nullable=False),
        sa.Column("emailed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("org_id", "id"),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["org_id", "rule_id"], ["reminder_rules.org_id", "reminder_rules.id"], ondelete="CASCADE"
        ),
        sa.UniqueConstraint("org_id", "rule_id", "user_id", "period", name="uq_notifications_once"),
    )
    op.create_index("ix_notifications_user", "notifications", ["user_id", "created_at"])
    for statement in tenant_rls("reminder_rules", maintenance_role=owner):
        op.execute(statement)
    own = f"user_id = {CURRENT_USER}"
    for statement in command_rls(
        "notifications",
        select=own,
        insert=f"org_id = {CURRENT_ORG} AND {own}",
        update=own,
        delete=f"org_id = {CURRENT_ORG}",
        maintenance_role=owner,
    ):
        op.execute(statement)
    for table in ("reminder_rules", "notifications"):
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {runtime_role}")


def downgrade(runtime_role: str) -> None:  # noqa: ARG001
    op.drop_table("notifications")
    op.drop_table("reminder_rules")
