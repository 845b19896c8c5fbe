from __future__ import annotations

import uuid
from datetime import datetime, time

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from backend.reminders.models import NotificationKind, ReminderKind

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
