"""Working time: holiday calendars and their holidays, per-person working-time contracts and absences.

Every table is a tenant table (migration 0040): ``org_id`` first in its keys, row-level security forced.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID, ExcludeConstraint
from sqlmodel import Field, SQLModel

from backend.core.models import tenant_fk, timestamp_field

ABSENCE_KINDS = ("vacation", "sick", "other")
#: The longest absence one row may describe (first to last day, inclusive).
MAX_ABSENCE_DAYS = 366
MINUTES_PER_DAY = 24 * 60
ABSENCE_RANGE = "daterange(first_day, last_day, '[]')"


def _uuid(*, nullable: bool = False) -> uuid.UUID:
    return Field(  # type: ignore[no-any-return]
        default_factory=uuid.uuid4, sa_column=Column(UUID(as_uuid=True), nullable=nullable)
    )


class HolidayCalendar(SQLModel, table=True):
    """An organization's set of public holidays (e.g. "Germany - Bavaria"); contracts point at one."""

    __tablename__ = "holiday_calendars"
    __table_args__ = (
        tenant_fk("org_id"),
        PrimaryKeyConstraint("org_id", "id"),
        Index("uq_holiday_calendars_org_id_name", "org_id", text("lower(name)"), unique=True),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    id: uuid.UUID = _uuid()
    name: str = Field(sa_column=Column(String(120), nullable=False))
    created_at: datetime = timestamp_field()


class Holiday(SQLModel, table=True):
    __tablename__ = "holidays"
    __table_args__ = (
        tenant_fk("org_id"),
        PrimaryKeyConstraint("org_id", "id"),
        ForeignKeyConstraint(
            ["org_id", "calendar_id"], ["holiday_calendars.org_id", "holiday_calendars.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("org_id", "calendar_id", "day"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    id: uuid.UUID = _uuid()
    calendar_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    day: date = Field(sa_column=Column(Date, nullable=False))
    name: str = Field(sa_column=Column(String(120), nullable=False))


class WorkContract(SQLModel, table=True):
    """A person's expected minutes per weekday (Monday first) from ``valid_from`` until the next contract."""

    __tablename__ = "work_contracts"
    __table_args__ = (
        tenant_fk("org_id"),
        PrimaryKeyConstraint("org_id", "id"),
        ForeignKeyConstraint(["org_id", "user_id"], ["memberships.org_id", "memberships.user_id"], ondelete="CASCADE"),
        ForeignKeyConstraint(
            ["org_id", "calendar_id"], ["holiday_calendars.org_id", "holiday_calendars.id"], ondelete="RESTRICT"
        ),
        UniqueConstraint("org_id", "user_id", "valid_from"),
        CheckConstraint(
            "cardinality(weekday_minutes) = 7 AND 0 <= ALL(weekday_minutes)"
            f" AND {MINUTES_PER_DAY} >= ALL(weekday_minutes)",
            name="weekday_minutes",
        ),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    id: uuid.UUID = _uuid()
    user_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    valid_from: date = Field(sa_column=Column(Date, nullable=False))
    weekday_minutes: list[int] = Field(sa_column=Column(ARRAY(Integer), nullable=False))
    calendar_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class Absence(SQLModel, table=True):
    """Days a person is away (inclusive); one person's absences never overlap."""

    __tablename__ = "absences"
    __table_args__ = (
        tenant_fk("org_id"),
        PrimaryKeyConstraint("org_id", "id"),
        ForeignKeyConstraint(["org_id", "user_id"], ["memberships.org_id", "memberships.user_id"], ondelete="CASCADE"),
        CheckConstraint(f"kind IN {ABSENCE_KINDS!r}", name="kind"),
        CheckConstraint(f"last_day >= first_day AND last_day - first_day < {MAX_ABSENCE_DAYS}", name="days"),
        CheckConstraint("NOT half_day OR first_day = last_day", name="half_day_single"),
        ExcludeConstraint(
            ("org_id", "="),
            ("user_id", "="),
            (text(ABSENCE_RANGE), "&&"),
            name="ex_absences_no_overlap",
            using="gist",
        ),
        Index("ix_absences_org_id_first_day", "org_id", "first_day"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    id: uuid.UUID = _uuid()
    user_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    first_day: date = Field(sa_column=Column(Date, nullable=False))
    last_day: date = Field(sa_column=Column(Date, nullable=False))
    half_day: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=text("false")))
    note: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    created_by: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    created_at: datetime = timestamp_field()
