"""Working time: holiday calendars, holidays, working-time contracts and absences (docs/time-tracking.md).

- ``holiday_calendars``: an organization's named sets of holidays (name unique per organization,
  regardless of case).
- ``holidays``: one day of a calendar (one row per calendar and day).
- ``work_contracts``: a person's expected minutes per weekday (Monday first, 0..1440 each) from
  ``valid_from``; the contract in force on a day is the latest one from on or before it. A calendar in
  use by a contract cannot be deleted.
- ``absences``: vacation, sick or other days of one person, inclusive, at most 366 days, a half day only
  for a single day; one person's absences never overlap (exclusion constraint).

All four are tenant tables with forced row-level security and the offboarding purge policy.

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID, ExcludeConstraint

from backend.core.rls import purge_policy, tenant_rls

revision: str = "0040"
down_revision: str | None = "0039"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("holiday_calendars", "holidays", "work_contracts", "absences")


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"], ["organizations.id"], ondelete="CASCADE", name=f"fk_{table}_org_id_organizations"
    )


def _member_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id", "user_id"],
        ["memberships.org_id", "memberships.user_id"],
        ondelete="CASCADE",
        name=f"fk_{table}_org_id_user_id_memberships",
    )


def _created_at() -> sa.Column[sa.DateTime]:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def upgrade(runtime_role: str) -> None:
    owner = op.get_bind().execute(sa.text("SELECT current_user")).scalar_one()
    op.create_table(
        "holiday_calendars",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_holiday_calendars"),
        _org_fk("holiday_calendars"),
    )
    op.create_index(
        "uq_holiday_calendars_org_id_name", "holiday_calendars", ["org_id", sa.text("lower(name)")], unique=True
    )
    op.create_table(
        "holidays",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("calendar_id", UUID(as_uuid=True), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_holidays"),
        _org_fk("holidays"),
        sa.ForeignKeyConstraint(
            ["org_id", "calendar_id"],
            ["holiday_calendars.org_id", "holiday_calendars.id"],
            ondelete="CASCADE",
            name="fk_holidays_org_id_calendar_id_holiday_calendars",
        ),
        sa.UniqueConstraint("org_id", "calendar_id", "day", name="uq_holidays_org_id_calendar_id_day"),
    )
    op.create_table(
        "work_contracts",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("weekday_minutes", ARRAY(sa.Integer), nullable=False),
        sa.Column("calendar_id", UUID(as_uuid=True)),
        _created_at(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_work_contracts"),
        _org_fk("work_contracts"),
        _member_fk("work_contracts"),
        sa.ForeignKeyConstraint(
            ["org_id", "calendar_id"],
            ["holiday_calendars.org_id", "holiday_calendars.id"],
            ondelete="RESTRICT",
            name="fk_work_contracts_org_id_calendar_id_holiday_calendars",
        ),
        sa.UniqueConstraint("org_id", "user_id", "valid_from", name="uq_work_contracts_org_id_user_id_valid_from"),
        sa.CheckConstraint(
            "cardinality(weekday_minutes) = 7 AND 0 <= ALL(weekday_minutes) AND 1440 >= ALL(weekday_minutes)",
            name="ck_work_contracts_weekday_minutes",
        ),
    )
    op.create_table(
        "absences",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("first_day", sa.Date, nullable=False),
        sa.Column("last_day", sa.Date, nullable=False),
        sa.Column("half_day", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("created_by", UUID(as_uuid=True), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_absences"),
        _org_fk("absences"),
        _member_fk("absences"),
        sa.CheckConstraint("kind IN ('vacation', 'sick', 'other')", name="ck_absences_kind"),
        sa.CheckConstraint("last_day >= first_day AND last_day - first_day < 366", name="ck_absences_days"),
        sa.CheckConstraint("NOT half_day OR first_day = last_day", name="ck_absences_half_day_single"),
        ExcludeConstraint(
            ("org_id", "="),
            ("user_id", "="),
            (sa.text("daterange(first_day, last_day, '[]')"), "&&"),
            name="ex_absences_no_overlap",
            using="gist",
        ),
    )
    op.create_index("ix_absences_org_id_first_day", "absences", ["org_id", "first_day"])
    for table in TABLES:
        for statement in tenant_rls(table, maintenance_role=owner):
            op.execute(statement)
        op.execute(purge_policy(table, owner))  # offboarding (migration 0036)
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {runtime_role}")


def downgrade(runtime_role: str) -> None:
    for table in reversed(TABLES):
        op.execute(f"REVOKE ALL ON {table} FROM {runtime_role}")
        op.drop_table(table)
