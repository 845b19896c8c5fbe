"""Reminder rules (per organization) and the notifications they send (per person, once per period)."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime, time

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKeyConstraint,
    Index,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlmodel import Field, SQLModel

from backend.core.models import tenant_fk, timestamp_field
from backend.tenancy.roles import sql_check


class ReminderKind(enum.StrEnum):
    NO_TIME_LOGGED = "no_time_logged"  # nothing logged today by the rule's local time, on its weekdays
    TIMER_RUNNING = "timer_running"  # a timer running longer than the rule's hours
    TIMESHEET_NOT_SUBMITTED = "timesheet_not_submitted"  # last ISO week not submitted, from its weekday/time
    APPROVAL_WAITING = "approval_waiting"  # (approvers) submitted timesheets waiting for a decision


class NotificationKind(enum.StrEnum):
    """What a notification is about: a rule's kind, or an item's own reminder."""

    NO_TIME_LOGGED = "no_time_logged"
    TIMER_RUNNING = "timer_running"
    TIMESHEET_NOT_SUBMITTED = "timesheet_not_submitted"
    APPROVAL_WAITING = "approval_waiting"
    TASK_REMINDER = "task_reminder"  # a task's reminder_at, to its assignees
    EVENT_REMINDER = "event_reminder"  # an event's reminder_at, to its attendees


class ReminderRule(SQLModel, table=True):
    __tablename__ = "reminder_rules"
    __table_args__ = (
        tenant_fk("org_id"),
        CheckConstraint(sql_check("kind", ReminderKind), name="kind"),
        CheckConstraint("weekdays <@ ARRAY[1, 2, 3, 4, 5, 6, 7]::smallint[]", name="weekdays"),
        CheckConstraint("hours IS NULL OR hours BETWEEN 1 AND 168", name="hours"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(UUID(as_uuid=True), primary_key=True))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    name: str = Field(default="", sa_column=Column(String(200), nullable=False, server_default=""))
    enabled: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    local_time: time = Field(sa_column=Column(Time, nullable=False))
    weekdays: list[int] = Field(sa_column=Column(ARRAY(SmallInteger), nullable=False))
    hours: int | None = Field(default=None, sa_column=Column(SmallInteger))
    created_by: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class Notification(SQLModel, table=True):
    """One reminder sent to one person; the unique key makes a repeated evaluation a no-op."""

    __tablename__ = "notifications"
    __table_args__ = (
        tenant_fk("org_id"),
        ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["org_id", "rule_id"], ["reminder_rules.org_id", "reminder_rules.id"], ondelete="CASCADE"),
        UniqueConstraint("org_id", "rule_id", "user_id", "period", name="uq_notifications_once"),
        # Item reminders (a task's or an event's reminder_at): once per item, person and reminder time.
        Index(
            "uq_notifications_item_once",
            "org_id",
            "item_key",
            "user_id",
            "period",
            unique=True,
            postgresql_where=text("item_key IS NOT NULL"),
        ),
        CheckConstraint("(rule_id IS NULL) <> (item_key IS NULL)", name="rule_or_item"),
        Index("ix_notifications_user", "user_id", "created_at"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(UUID(as_uuid=True), primary_key=True))
    user_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    rule_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    item_key: str | None = Field(default=None, sa_column=Column(String(80)))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    period: str = Field(sa_column=Column(String(64), nullable=False))
    title: str = Field(sa_column=Column(String(300), nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    link: str = Field(sa_column=Column(String(2000), nullable=False))
    emailed: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default="false"))
    created_at: datetime = timestamp_field()
    read_at: datetime | None = timestamp_field(nullable=True, default_now=False)


class ReminderMute(SQLModel, table=True):
    """A person's own "don't remind me of this kind" in one organization: the evaluator sends them neither
    mail nor notification of a muted kind (their choice, whatever the organization's rules say)."""

    __tablename__ = "reminder_mutes"
    __table_args__ = (
        tenant_fk("org_id"),
        ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        CheckConstraint(sql_check("kind", NotificationKind), name="kind"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    user_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    kind: str = Field(sa_column=Column(String(32), primary_key=True))
    created_at: datetime = timestamp_field()


class ScheduleCadence(enum.StrEnum):
    MONTHLY = "monthly"  # on day_of_month (1-28) at local_time
    WEEKLY = "weekly"  # on weekday (ISO, 1 = Monday) at local_time


class SchedulePeriod(enum.StrEnum):
    PREVIOUS_MONTH = "previous_month"  # the calendar month before the run's date
    PREVIOUS_WEEK = "previous_week"  # the ISO week (Monday to Sunday) before the run's date


class ExportSchedule(SQLModel, table=True):
    """A recurring export (started by the reminders tick through the exports service), mailed to its
    recipients when it is done. The export is made with the reach of ``created_by`` as it stands then."""

    __tablename__ = "export_schedules"
    __table_args__ = (
        tenant_fk("org_id"),
        ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="RESTRICT"),
        CheckConstraint(sql_check("cadence", ScheduleCadence), name="cadence"),
        CheckConstraint(sql_check("period", SchedulePeriod), name="period"),
        CheckConstraint("kind IN ('detailed', 'timesheet', 'summary')", name="kind"),
        CheckConstraint("format IN ('csv', 'pdf', 'xlsx')", name="format"),
        CheckConstraint(
            "(cadence = 'monthly' AND day_of_month BETWEEN 1 AND 28 AND weekday IS NULL)"
            " OR (cadence = 'weekly' AND weekday BETWEEN 1 AND 7 AND day_of_month IS NULL)",
            name="when",
        ),
        CheckConstraint("cardinality(recipients) BETWEEN 1 AND 50", name="recipients"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(UUID(as_uuid=True), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    enabled: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    cadence: str = Field(sa_column=Column(String(16), nullable=False))
    day_of_month: int | None = Field(default=None, sa_column=Column(SmallInteger))
    weekday: int | None = Field(default=None, sa_column=Column(SmallInteger))
    local_time: time = Field(sa_column=Column(Time, nullable=False))
    time_zone: str = Field(sa_column=Column(String(64), nullable=False))
    period: str = Field(sa_column=Column(String(16), nullable=False))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    format: str = Field(sa_column=Column(String(8), nullable=False))
    recipients: list[uuid.UUID] = Field(sa_column=Column(ARRAY(UUID(as_uuid=True)), nullable=False))
    created_by: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class ExportScheduleRun(SQLModel, table=True):
    """One run of a schedule for one period: the primary key makes a second tick for the same period a no-op."""

    __tablename__ = "export_schedule_runs"
    __table_args__ = (
        tenant_fk("org_id"),
        ForeignKeyConstraint(
            ["org_id", "schedule_id"], ["export_schedules.org_id", "export_schedules.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(["org_id", "export_id"], ["exports.org_id", "exports.id"], ondelete="CASCADE"),
        UniqueConstraint("org_id", "export_id", name="uq_export_schedule_runs_export"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    schedule_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    period_start: date = Field(sa_column=Column(Date, primary_key=True))
    period_end: date = Field(sa_column=Column(Date, nullable=False))
    export_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    created_at: datetime = timestamp_field()
    mailed_at: datetime | None = timestamp_field(nullable=True, default_now=False)
