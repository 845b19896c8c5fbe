"""Time tracking tables: entries, their append-only corrections, the organization's time settings, billable
rates, each member's time zone, timesheets (one per person and ISO week) and CSV imports.

Every table carries ``org_id`` and references its neighbours through ``(org_id, …)``, so a row can never
point into another tenant. Entries and timesheets reference the *person* (``users``), not the membership:
someone who leaves the organization keeps their history. Rates and time zones reference the membership
and go with it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID, ExcludeConstraint
from sqlmodel import Field, SQLModel

from backend.core.models import tenant_fk, timestamp_field

DEFAULT_CURRENCY = "EUR"
DEFAULT_MAX_DURATION_MINUTES = 24 * 60
DEFAULT_MAX_FUTURE_MINUTES = 24 * 60
ALL_WEEKDAYS = (1, 2, 3, 4, 5, 6, 7)

TIMESHEET_STATUSES = ("submitted", "approved", "rejected", "reopened")
IMPORT_STATUSES = ("queued", "running", "done", "failed")
ENTRY_SOURCES = ("manual", "timer", "import")

# A running entry (no end yet) reaches into the future without bound.
ENTRY_RANGE = "tstzrange(start_at, coalesce(end_at, 'infinity'::timestamptz))"


def _uuid(*, primary_key: bool = False, nullable: bool = False) -> Any:
    return Field(
        default_factory=uuid.uuid4 if primary_key else None,
        sa_column=Column(UUID(as_uuid=True), primary_key=primary_key, nullable=nullable),
    )


class TimeSettings(SQLModel, table=True):
    """One row per organization, written on first change; absent means every default applies."""

    __tablename__ = "time_settings"
    __table_args__ = (
        tenant_fk("org_id"),
        CheckConstraint("max_duration_minutes > 0", name="max_duration"),
        CheckConstraint("max_future_minutes >= 0", name="max_future"),
        CheckConstraint("default_rate IS NULL OR default_rate >= 0", name="default_rate"),
        CheckConstraint("rounding_mode IN ('none', 'up', 'down', 'nearest')", name="rounding_mode"),
        CheckConstraint("rounding_minutes BETWEEN 1 AND 240", name="rounding_minutes"),
        CheckConstraint("rounding_weekdays <@ ARRAY[1, 2, 3, 4, 5, 6, 7]::smallint[]", name="rounding_weekdays"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    currency: str = Field(default=DEFAULT_CURRENCY, sa_column=Column(String(3), nullable=False))
    default_rate: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2)))
    max_duration_minutes: int = Field(default=DEFAULT_MAX_DURATION_MINUTES, sa_column=Column(Integer, nullable=False))
    max_future_minutes: int = Field(default=DEFAULT_MAX_FUTURE_MINUTES, sa_column=Column(Integer, nullable=False))
    prevent_overlaps: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    locked_until: datetime | None = timestamp_field(nullable=True, default_now=False)
    # Rounding in reports and exports (never of stored entries): mode, step, and the ISO weekdays it
    # applies on (by the person's own time zone).
    rounding_mode: str = Field(
        default="none", sa_column=Column(String(8), nullable=False, server_default=text("'none'"))
    )
    rounding_minutes: int = Field(default=1, sa_column=Column(SmallInteger, nullable=False, server_default=text("1")))
    rounding_weekdays: list[int] = Field(
        default_factory=lambda: list(ALL_WEEKDAYS),
        sa_column=Column(ARRAY(SmallInteger), nullable=False, server_default=text("'{1,2,3,4,5,6,7}'::smallint[]")),
    )
    updated_at: datetime = timestamp_field()


class MemberTimeZone(SQLModel, table=True):
    """The IANA zone a member's days and ISO weeks are counted in (UTC when absent)."""

    __tablename__ = "member_time_zones"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "user_id"], ["memberships.org_id", "memberships.user_id"], ondelete="CASCADE"),
        PrimaryKeyConstraint("org_id", "user_id"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    user_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    time_zone: str = Field(sa_column=Column(String(64), nullable=False))
    updated_at: datetime = timestamp_field()


class TimeRate(SQLModel, table=True):
    """A billable hourly rate for a member, a project, or a member on a project (the organization's
    default rate lives in :class:`TimeSettings`). Rates are in the organization's currency."""

    __tablename__ = "time_rates"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "user_id"], ["memberships.org_id", "memberships.user_id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["org_id", "project_id"], ["projects.org_id", "projects.id"], ondelete="CASCADE"),
        PrimaryKeyConstraint("org_id", "id"),
        UniqueConstraint("org_id", "user_id", "project_id", postgresql_nulls_not_distinct=True),
        CheckConstraint("user_id IS NOT NULL OR project_id IS NOT NULL", name="scope"),
        CheckConstraint("amount >= 0", name="amount"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(UUID(as_uuid=True), nullable=False))
    user_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    project_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    amount: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    updated_at: datetime = timestamp_field()


class TimeTag(SQLModel, table=True):
    """The organization's tag names, collected as entries use them."""

    __tablename__ = "time_tags"
    __table_args__ = (tenant_fk("org_id"), PrimaryKeyConstraint("org_id", "name"))

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    name: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = timestamp_field()


class TimeEntry(SQLModel, table=True):
    __tablename__ = "time_entries"
    __table_args__ = (
        tenant_fk("org_id"),
        ForeignKeyConstraint(["org_id", "project_id"], ["projects.org_id", "projects.id"], ondelete="RESTRICT"),
        # A task belongs to the entry's own project (migration 0015).
        ForeignKeyConstraint(["org_id", "project_id", "task_id"], ["tasks.org_id", "tasks.project_id", "tasks.id"]),
        PrimaryKeyConstraint("org_id", "id"),
        CheckConstraint("end_at IS NULL OR end_at >= start_at", name="ends_after_start"),
        CheckConstraint("rate IS NULL OR rate >= 0", name="rate"),
        CheckConstraint(f"source IN {ENTRY_SOURCES!r}", name="source"),
        UniqueConstraint("org_id", "import_key"),
        Index("ix_time_entries_org_id_user_id_start_at", "org_id", "user_id", "start_at"),
        Index("ix_time_entries_org_id_project_id_start_at", "org_id", "project_id", "start_at"),
        Index("ix_time_entries_org_id_start_at", "org_id", "start_at"),  # org-wide date ranges (0032)
        Index("ix_time_entries_org_id_task_id", "org_id", "task_id"),
        # At most one running entry per person and organization: the race-free part of the timer.
        Index("uq_time_entries_running", "org_id", "user_id", unique=True, postgresql_where=text("end_at IS NULL")),
        # One person's entries never overlap while the organization prevents overlaps (each entry records
        # the setting it was written under; switching the setting on re-checks every entry).
        ExcludeConstraint(
            ("org_id", "="),
            ("user_id", "="),
            (text(ENTRY_RANGE), "&&"),
            name="ex_time_entries_no_overlap",
            using="gist",
            where=text("no_overlap"),
        ),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(UUID(as_uuid=True), nullable=False))
    user_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="RESTRICT"), nullable=False)
    )
    project_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    task_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))  # no tasks table yet
    description: str | None = Field(default=None, sa_column=Column(Text))
    start_at: datetime = timestamp_field(default_now=False)
    end_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    duration_seconds: int | None = Field(default=None, sa_column=Column(Integer))
    billable: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    tags: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(String(64)), nullable=False))
    rate: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2)))
    currency: str | None = Field(default=None, sa_column=Column(String(3)))
    no_overlap: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    source: str = Field(default="manual", sa_column=Column(String(16), nullable=False))
    import_key: str | None = Field(default=None, sa_column=Column(String(64)))
    created_by: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="RESTRICT"), nullable=False)
    )
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class TimeEntryCorrection(SQLModel, table=True):
    """Append-only: a change to an entry that can no longer be edited (locked period, approved week).
    Reports add ``duration_delta_seconds`` to the original; the runtime role may only insert."""

    __tablename__ = "time_entry_corrections"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "entry_id"], ["time_entries.org_id", "time_entries.id"], ondelete="RESTRICT"),
        PrimaryKeyConstraint("org_id", "id"),
        Index("ix_time_entry_corrections_org_id_entry_id", "org_id", "entry_id"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(UUID(as_uuid=True), nullable=False))
    entry_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    duration_delta_seconds: int = Field(sa_column=Column(Integer, nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    created_by: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="RESTRICT"), nullable=False)
    )
    created_at: datetime = timestamp_field()


class ProjectBurnDay(SQLModel, table=True):
    """A project's closed entries on one UTC day (of ``start_at``): count, seconds with corrections, and
    amounts (``amount`` every priced entry's, ``priced_amount`` those with a currency). Written only by
    the triggers of migration 0027, in the same transaction as the entry or correction; read by
    ``project_burn``."""

    __tablename__ = "project_burn_days"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "project_id"], ["projects.org_id", "projects.id"], ondelete="CASCADE"),
        PrimaryKeyConstraint("org_id", "project_id", "day"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    project_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    day: date = Field(sa_column=Column(Date, nullable=False))
    entries: int = Field(sa_column=Column(Integer, nullable=False))
    seconds: int = Field(sa_column=Column(BigInteger, nullable=False))
    amount: Decimal = Field(sa_column=Column(Numeric(18, 2), nullable=False))
    priced_amount: Decimal = Field(sa_column=Column(Numeric(18, 2), nullable=False))


class Timesheet(SQLModel, table=True):
    """A person's ISO week (in their time zone) once it has been submitted; no row means "open"."""

    __tablename__ = "timesheets"
    __table_args__ = (
        tenant_fk("org_id"),
        PrimaryKeyConstraint("org_id", "id"),
        UniqueConstraint("org_id", "user_id", "week_start"),
        CheckConstraint(f"status IN {TIMESHEET_STATUSES!r}", name="status"),
        CheckConstraint("extract(isodow FROM week_start) = 1", name="monday"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(UUID(as_uuid=True), nullable=False))
    user_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="RESTRICT"), nullable=False)
    )
    week_start: date = Field(sa_column=Column(Date, nullable=False))
    time_zone: str = Field(sa_column=Column(String(64), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    submitted_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    decided_by: uuid.UUID | None = Field(
        default=None, sa_column=Column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL"))
    )
    decided_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    reason: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class TimeImport(SQLModel, table=True):
    """A Toggl or Clockify CSV export being imported by a worker; progress and bad rows are readable."""

    __tablename__ = "time_imports"
    __table_args__ = (
        tenant_fk("org_id"),
        PrimaryKeyConstraint("org_id", "id"),
        CheckConstraint(f"status IN {IMPORT_STATUSES!r}", name="status"),
        CheckConstraint("source IN ('toggl', 'clockify')", name="source"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(UUID(as_uuid=True), nullable=False))
    source: str = Field(sa_column=Column(String(16), nullable=False))
    filename: str | None = Field(default=None, sa_column=Column(String(255)))
    file_hash: str = Field(sa_column=Column(String(64), nullable=False))
    content: str = Field(sa_column=Column(Text, nullable=False))
    dry_run: bool = Field(sa_column=Column(Boolean, nullable=False))
    may_create_projects: bool = Field(sa_column=Column(Boolean, nullable=False))
    status: str = Field(default="queued", sa_column=Column(String(16), nullable=False))
    total_rows: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    done_rows: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    imported_rows: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    duplicate_rows: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    created_projects: list[str] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    errors: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    created_by: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="RESTRICT"), nullable=False)
    )
    created_at: datetime = timestamp_field()
    finished_at: datetime | None = timestamp_field(nullable=True, default_now=False)
