from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from backend.tracking.service import WorktimeDay
from backend.worktime.models import MAX_ABSENCE_DAYS, MINUTES_PER_DAY

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
DayMinutes = Annotated[int, Field(ge=0, le=MINUTES_PER_DAY)]
#: Minutes per weekday, Monday first.
WeekdayMinutes = Annotated[list[DayMinutes], Field(min_length=7, max_length=7)]
AbsenceKind = Literal["vacation", "sick", "other"]


class CalendarCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name


class CalendarRead(BaseModel):
    id: uuid.UUID
    name: str
    created_at: datetime


class HolidayCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    day: date
    name: Name


class HolidayRead(BaseModel):
    id: uuid.UUID
    calendar_id: uuid.UUID
    day: date
    name: str


class ContractCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: uuid.UUID
    valid_from: date
    weekday_minutes: WeekdayMinutes
    calendar_id: uuid.UUID | None = None


class ContractUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weekday_minutes: WeekdayMinutes | None = None
    calendar_id: uuid.UUID | None = None


class ContractRead(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    valid_from: date
    weekday_minutes: list[int]
    weekly_minutes: int
    calendar_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class AbsenceCreate(BaseModel):
    """Your own absence, or (admins, and leads for the people on their projects) someone else's."""

    model_config = ConfigDict(extra="forbid")
    user_id: uuid.UUID | None = None
    kind: AbsenceKind
    first_day: date
    last_day: date
    half_day: bool = False
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""

    @model_validator(mode="after")
    def _days(self) -> AbsenceCreate:
        if self.last_day < self.first_day:
            raise ValueError("last_day is before first_day")
        if (self.last_day - self.first_day).days >= MAX_ABSENCE_DAYS:
            raise ValueError(f"an absence spans at most {MAX_ABSENCE_DAYS} days")
        if self.half_day and self.first_day != self.last_day:
            raise ValueError("a half-day absence is a single day (first_day = last_day)")
        return self


class AbsenceRead(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    name: str | None
    kind: AbsenceKind
    first_day: date
    last_day: date
    half_day: bool
    note: str
    created_by: uuid.UUID
    created_at: datetime


class BalanceRead(BaseModel):
    """A person's working time from ``from`` to ``to``: per day and in total, and the running balance."""

    model_config = ConfigDict(populate_by_name=True)
    user_id: uuid.UUID
    time_zone: str
    from_: date = Field(alias="from")
    to: date
    expected_minutes: int
    tracked_minutes: int
    balance_minutes: int
    #: The first contract's first day (None: no contract yet, nothing is expected).
    balance_since: date | None
    #: tracked - expected from ``balance_since`` up to ``to``.
    cumulative_balance_minutes: int
    days: list[WorktimeDay]


class TeamWeekRow(BaseModel):
    user_id: uuid.UUID
    name: str | None
    expected_minutes: int
    tracked_minutes: int
    overtime_minutes: int
    balance_minutes: int
    absences: list[AbsenceRead]
