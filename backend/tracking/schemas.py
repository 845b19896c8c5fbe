from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

Description = Annotated[str, StringConstraints(max_length=10_000)]
TagName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2_000)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Amount = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
IsoWeek = Annotated[str, StringConstraints(pattern=r"^\d{4}-W\d{2}$")]


class TimeEntryCreate(BaseModel):
    """Times are ISO 8601 with an offset. ``end_at`` may be omitted when ``duration_seconds`` is given."""

    model_config = ConfigDict(extra="forbid")
    project_id: uuid.UUID
    user_id: uuid.UUID | None = Field(default=None, description="Someone else's entry (leads and admins)")
    task_id: uuid.UUID | None = None
    description: Description | None = None
    start_at: AwareDatetime
    end_at: AwareDatetime | None = None
    duration_seconds: Annotated[int, Field(ge=0)] | None = None
    billable: bool | None = Field(default=None, description="Defaults from the project's billable flag")
    tags: list[TagName] = Field(default_factory=list, max_length=20)


class TimeEntryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = None
    description: Description | None = None
    start_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None
    billable: bool | None = None
    tags: list[TagName] | None = Field(default=None, max_length=20)


class BulkChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = None
    description: Description | None = None
    billable: bool | None = None
    tags: list[TagName] | None = Field(default=None, max_length=20)


class BulkUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[uuid.UUID] = Field(min_length=1, max_length=500)
    changes: BulkChanges


class BulkDelete(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[uuid.UUID] = Field(min_length=1, max_length=500)


class BulkResult(BaseModel):
    count: int
    ids: list[uuid.UUID]


class CorrectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    duration_delta_seconds: int = Field(description="Added to the entry's duration in reports (may be negative)")
    reason: Reason


class CorrectionRead(BaseModel):
    id: uuid.UUID
    entry_id: uuid.UUID
    duration_delta_seconds: int
    reason: str
    created_by: uuid.UUID
    created_at: datetime


class TimeEntryRead(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    project_id: uuid.UUID
    task_id: uuid.UUID | None
    description: str | None
    start_at: datetime
    end_at: datetime | None
    time_zone: str
    start_local: datetime
    end_local: datetime | None
    duration_seconds: int | None
    corrected_duration_seconds: int | None
    running: bool
    billable: bool
    tags: list[str]
    rate: Decimal | None
    currency: str | None
    amount: Decimal | None
    source: str
    locked: bool
    created_at: datetime
    updated_at: datetime


class TimerStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project_id: uuid.UUID
    task_id: uuid.UUID | None = None
    description: Description | None = None
    billable: bool | None = None
    tags: list[TagName] = Field(default_factory=list, max_length=20)
    stop_running: bool = Field(default=False, description="Stop a running timer at the same instant")


class TimerRead(BaseModel):
    running: TimeEntryRead | None


class RecalculateRates(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime
    project_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None


class RecalculateResult(BaseModel):
    examined: int
    changed: int
    skipped_locked: int


RoundingMode = Literal["none", "up", "down", "nearest"]


class Rounding(BaseModel):
    """How reports and exports round each entry's (corrected) duration; stored entries never change."""

    model_config = ConfigDict(extra="forbid")
    mode: RoundingMode = Field(default="none", description="none, up, down or nearest")
    minutes: Annotated[int, Field(ge=1, le=240, description="The step, in minutes (1-240)")] = 1
    weekdays: Annotated[
        list[Annotated[int, Field(ge=1, le=7)]],
        Field(min_length=1, max_length=7, description="ISO weekdays (1 = Monday) the rule applies on"),
    ] = [1, 2, 3, 4, 5, 6, 7]

    @field_validator("weekdays")
    @classmethod
    def _distinct_days(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("each weekday at most once")
        return sorted(value)


class TimeSettingsRead(BaseModel):
    currency: str
    default_rate: Decimal | None
    max_duration_minutes: int
    max_future_minutes: int
    prevent_overlaps: bool
    locked_until: datetime | None
    rounding: Rounding


class TimeSettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    currency: Currency | None = None
    default_rate: Amount | None = None
    max_duration_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)] | None = None
    max_future_minutes: Annotated[int, Field(ge=0, le=366 * 24 * 60)] | None = None
    prevent_overlaps: bool | None = None
    rounding: Rounding | None = None


class TimeLock(BaseModel):
    model_config = ConfigDict(extra="forbid")
    locked_until: AwareDatetime | None


class RateRead(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID | None
    project_id: uuid.UUID | None
    amount: Decimal
    currency: str
    updated_at: datetime


class RateSet(BaseModel):
    """A rate for a member, a project, or a member on a project; ``amount: null`` removes it."""

    model_config = ConfigDict(extra="forbid")
    user_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    amount: Amount | None


class TimeZoneSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    time_zone: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    user_id: uuid.UUID | None = Field(default=None, description="Someone else's (org admins)")


class TimeZoneRead(BaseModel):
    user_id: uuid.UUID
    time_zone: str


class WorktimeDay(BaseModel):
    """One local day of a person's working time: what their contract expected, what they tracked."""

    day: date
    expected_minutes: int
    tracked_minutes: int
    balance_minutes: int
    #: The holiday of the contract's calendar on this day, if any.
    holiday: str | None = None
    #: The absence covering this day (vacation, sick, other), if any.
    absence: Literal["vacation", "sick", "other"] | None = None
    half_day: bool = False


class WeekWorktime(BaseModel):
    """The week's working time on a timesheet (from the working-time domain; docs/time-tracking.md)."""

    expected_minutes: int
    tracked_minutes: int
    #: tracked - expected over the week.
    overtime_minutes: int
    #: The running balance from the person's first contract up to the week's last day.
    balance_minutes: int
    days: list[WorktimeDay]


class TimesheetRead(BaseModel):
    id: uuid.UUID | None
    user_id: uuid.UUID
    week: str
    week_start: date
    time_zone: str
    status: Literal["open", "submitted", "approved", "rejected", "reopened"]
    total_seconds: int
    billable_seconds: int
    entries: list[TimeEntryRead]
    submitted_at: datetime | None
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    reason: str | None
    #: Expected time, overtime and balance of the week, with its absences and holidays.
    worktime: WeekWorktime | None = None


class TimesheetSubmit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    week: IsoWeek


class TimesheetReject(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


class TimesheetSummary(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    week: str
    status: str
    submitted_at: datetime | None


class ImportCreate(BaseModel):
    """A Toggl or Clockify "detailed" CSV export, as text."""

    model_config = ConfigDict(extra="forbid")
    source: Literal["toggl", "clockify"]
    csv: Annotated[str, StringConstraints(min_length=1, max_length=20_000_000)]
    filename: Annotated[str, StringConstraints(max_length=255)] | None = None
    dry_run: bool = False


class ImportRead(BaseModel):
    id: uuid.UUID
    source: str
    filename: str | None
    dry_run: bool
    status: str
    total_rows: int
    done_rows: int
    imported_rows: int
    duplicate_rows: int
    created_projects: list[str]
    errors: list[dict[str, Any]]
    created_by: uuid.UUID
    created_at: datetime
    finished_at: datetime | None


class TagRead(BaseModel):
    name: str
