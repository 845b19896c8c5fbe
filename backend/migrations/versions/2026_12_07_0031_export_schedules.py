"""Scheduled exports: recurring timesheet exports, mailed to their recipients when done.

- ``export_schedules``: a schedule (monthly on a day 1-28, or weekly on a weekday, at a local time in its
  time zone), the period it exports (the previous month or ISO week), the export's kind and format, and
  its recipients (member user ids, checked by the service).
- ``export_schedule_runs``: one row per (schedule, period start), naming the export it started; its
  primary key makes a second tick for the same period a no-op. ``mailed_at`` is set in the transaction
  that queues the recipients' mail, so each run is mailed once.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from backend.core.rls import tenant_rls

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade(runtime_role: str) -> None:
    owner = op.get_bind().execute(sa.text("SELECT current_user")).scalar_one()
    op.create_table(
        "export_schedules",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("cadence", sa.String(16), nullable=False),
        sa.Column("day_of_month", sa.SmallInteger),
        sa.Column("weekday", sa.SmallInteger),
        sa.Column("local_time", sa.Time, nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("recipients", ARRAY(UUID(as_uuid=True)), nullable=False),
        sa.Column("created_by", UUID(as_uuid=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id"),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="RESTRICT"),
        sa.CheckConstraint("cadence IN ('monthly', 'weekly')", name="cadence"),
        sa.CheckConstraint("period IN ('previous_month', 'previous_week')", name="period"),
        sa.CheckConstraint("kind IN ('detailed', 'timesheet', 'summary')", name="kind"),
        sa.CheckConstraint("format IN ('csv', 'pdf', 'xlsx')", name="format"),
        sa.CheckConstraint(
            "(cadence = 'monthly' AND day_of_month BETWEEN 1 AND 28 AND weekday IS NULL)"
            " OR (cadence = 'weekly' AND weekday BETWEEN 1 AND 7 AND day_of_month IS NULL)",
            name="when",
        ),
        sa.CheckConstraint("cardinality(recipients) BETWEEN 1 AND 50", name="recipients"),
    )
    op.create_table(
        "export_schedule_runs",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("schedule_id", UUID(as_uuid=True), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("export_id", UUID(as_uuid=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mailed_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("org_id", "schedule_id", "period_start"),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["org_id", "schedule_id"], ["export_schedules.org_id", "export_schedules.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["org_id", "export_id"], ["exports.org_id", "exports.id"], ondelete="CASCADE"),
        sa.UniqueConstraint("org_id", "export_id", name="uq_export_schedule_runs_export"),
    )
    for table in ("export_schedules", "export_schedule_runs"):
        for statement in tenant_rls(table, maintenance_role=owner):
            op.execute(statement)
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {runtime_role}")


def downgrade(runtime_role: str) -> None:  # noqa: ARG001
    op.drop_table("export_schedule_runs")
    op.drop_table("export_schedules")
