from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from backend.reminders.models import NotificationKind, ReminderKind, ScheduleCadence, SchedulePeriod

WORKING_DAYS = [1, 2, 3, 4, 5]


def _weekdays(value: list[int] | None) -> list[int] | None:
    if value is None:
        return None
    if any(day < 1 or day > 7 for day in value):
        raise ValueError("weekdays are ISO weekdays, 1 (Monday) to 7 (Sunday)")
    return sorted(set(value))


class RuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ReminderKind
    name: str = Field(default="", max_length=200)
    enabled: bool = True
    local_time: time = Field(
        default=time(17, 0), description="Checked from this time of day, in each person's own time zone"
    )
    weekdays: list[int] = Field(
        default_factory=lambda: list(WORKING_DAYS),
        min_length=1,
        max_length=7,
        description="ISO weekdays (1 = Monday) the rule is checked on: the working days",
    )
    hours: int | None = Field(
        default=None, ge=1, le=168, description="timer_running only: a timer running longer than this"
    )

    _days = field_validator("weekdays")(_weekdays)

    @model_validator(mode="after")
    def _hours_for_timers(self) -> RuleCreate:
        if self.kind == ReminderKind.TIMER_RUNNING and self.hours is None:
            raise ValueError("a timer_running rule needs hours")
        if self.kind != ReminderKind.TIMER_RUNNING and self.hours is not None:
            raise ValueError("hours apply to timer_running rules only")
        return self


class RuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    enabled: bool | None = None
    local_time: time | None = None
    weekdays: list[int] | None = Field(default=None, min_length=1, max_length=7)
    hours: int | None = Field(default=None, ge=1, le=168)

    _days = field_validator("weekdays")(_weekdays)


class RuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    org_id: uuid.UUID
    kind: ReminderKind
    name: str
    enabled: bool
    local_time: time
    weekdays: list[int]
    hours: int | None
    created_at: datetime
    updated_at: datetime


class NotificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    org_id: uuid.UUID
    kind: NotificationKind
    title: str
    body: str
    link: str
    created_at: datetime
    read_at: datetime | None
    read: bool


# Scheduled exports -----------------------------------------------------------------------------------

ExportKind = Literal["detailed", "timesheet", "summary"]
ExportFormat = Literal["csv", "pdf", "xlsx"]


def _minute(value: time | None) -> time | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        raise ValueError("local_time is a time of day without an offset (the schedule's time_zone applies)")
    return value.replace(second=0, microsecond=0)


class ScheduleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    cadence: ScheduleCadence
    day_of_month: int | None = Field(
        default=None, ge=1, le=28, description="monthly only: the day of the month it runs on (1-28)"
    )
    weekday: int | None = Field(default=None, ge=1, le=7, description="weekly only: ISO weekday, 1 = Monday")
    local_time: time = Field(description="The time of day it runs at, in time_zone (HH:MM)")
    time_zone: str = Field(default="UTC", max_length=64, description="IANA time zone of local_time and the period")
    period: SchedulePeriod = Field(description="What it exports: the month or ISO week before the run's date")
    kind: ExportKind = "timesheet"
    format: ExportFormat = "csv"
    recipients: list[uuid.UUID] = Field(
        min_length=1, max_length=50, description="Members of the organization who may read its exports"
    )
    enabled: bool = True

    _time = field_validator("local_time")(_minute)

    @model_validator(mode="after")
    def _day_for_cadence(self) -> ScheduleCreate:
        check_cadence(self.cadence, self.day_of_month, self.weekday)
        self.recipients = list(dict.fromkeys(self.recipients))
        return self


def check_cadence(cadence: ScheduleCadence, day_of_month: int | None, weekday: int | None) -> None:
    if cadence == ScheduleCadence.MONTHLY and (day_of_month is None or weekday is not None):
        raise ValueError("a monthly schedule takes day_of_month (1-28) and no weekday")
    if cadence == ScheduleCadence.WEEKLY and (weekday is None or day_of_month is not None):
        raise ValueError("a weekly schedule takes weekday (1-7) and no day_of_month")


class ScheduleUpdate(BaseModel):
    """Changed fields only; cadence, day_of_month and weekday are checked together after the change."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    cadence: ScheduleCadence | None = None
    day_of_month: int | None = Field(default=None, ge=1, le=28)
    weekday: int | None = Field(default=None, ge=1, le=7)
    local_time: time | None = None
    time_zone: str | None = Field(default=None, max_length=64)
    period: SchedulePeriod | None = None
    kind: ExportKind | None = None
    format: ExportFormat | None = None
    recipients: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=50)
    enabled: bool | None = None

    _time = field_validator("local_time")(_minute)


class ScheduleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    enabled: bool
    cadence: ScheduleCadence
    day_of_month: int | None
    weekday: int | None
    local_time: time
    time_zone: str
    period: SchedulePeriod
    kind: str
    format: str
    recipients: list[uuid.UUID]
    created_by: uuid.UUID
    created_at: datetime
    updated_at: datetime


# Personal mutes -----------------------------------------------------------------------------------------


class MutesSet(BaseModel):
    """The whole set of kinds you mute in this organization (an empty list unmutes everything)."""

    model_config = ConfigDict(extra="forbid")

    muted: list[NotificationKind] = Field(
        max_length=len(NotificationKind), description="Kinds of reminder you receive neither by mail nor in the app"
    )

    @field_validator("muted")
    @classmethod
    def _unique(cls, value: list[NotificationKind]) -> list[NotificationKind]:
        return sorted(set(value))


class MutesRead(BaseModel):
    muted: list[NotificationKind] = Field(description="The kinds you mute here, sorted")
    kinds: list[NotificationKind] = Field(description="Every kind of reminder there is (what can be muted)")
