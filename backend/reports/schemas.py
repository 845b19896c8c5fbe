from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

GroupKey = Literal["project", "client", "user", "task", "tag", "day", "week", "month"]
ScopeKind = Literal["organization", "led_projects", "own"]
Approval = Literal["open", "submitted", "approved", "rejected", "reopened"]


class Amount(BaseModel):
    currency: str
    amount: Decimal


class Figures(BaseModel):
    duration_seconds: int = 0
    billable_seconds: int = 0
    entries: int = 0
    amounts: list[Amount] = Field(default_factory=list, description="Billable amount per currency")


class Group(Figures):
    by: GroupKey
    key: str | None = Field(description="The group's id (project, user, …), date, ISO week or month; null: none")
    label: str | None
    groups: list[Group] = Field(default_factory=list, description="The second level of group_by, if asked")


class TimeReport(BaseModel):
    period_start: datetime
    period_end: datetime
    time_zone: str
    group_by: list[GroupKey]
    scope: Literal["organization", "led_projects", "own"]
    groups: list[Group]
    totals: Figures


class TimesheetCell(BaseModel):
    day: date
    duration_seconds: int


class TimesheetWeek(BaseModel):
    week: str
    week_start: date
    status: Approval
    duration_seconds: int


class TimesheetRow(BaseModel):
    user_id: uuid.UUID
    name: str | None
    days: list[TimesheetCell]
    weeks: list[TimesheetWeek]
    total_seconds: int


class TimesheetReport(BaseModel):
    period_start: date
    period_end: date = Field(description="Exclusive")
    time_zone: str
    days: list[date]
    people: list[TimesheetRow]
    scope: Literal["organization", "led_projects", "own"]


class ProjectFigures(BaseModel):
    project_id: uuid.UUID
    name: str
    client_id: uuid.UUID | None
    duration_seconds: int
    billable_seconds: int
    amounts: list[Amount]
    estimate_hours: Decimal | None
    budget_kind: str | None
    budget_period: str | None
    budget_amount: Decimal | None
    budget_used: Decimal | None = Field(description="Hours or money counted against the budget (this month if monthly)")
    burn_percent: Decimal | None
    estimate_percent: Decimal | None
    over_budget: bool
    over_estimate: bool


class ProjectsReport(BaseModel):
    time_zone: str
    scope: Literal["organization", "led_projects", "own"]
    projects: list[ProjectFigures]


class MemberProductivity(BaseModel):
    user_id: uuid.UUID
    name: str | None
    weekly_capacity_hours: Decimal
    expected_seconds: int
    tracked_seconds: int
    billable_seconds: int
    utilization_percent: Decimal | None
    billable_ratio: Decimal | None
    corrected_after_lock: int = Field(description="Entries in the period changed by a correction (locked or approved)")


class ProductivityReport(BaseModel):
    period_start: datetime
    period_end: datetime
    time_zone: str
    scope: Literal["organization", "led_projects", "own"]
    members: list[MemberProductivity]


class CapacitySet(BaseModel):
    weekly_hours: Decimal = Field(ge=0, le=168)


class CapacityRead(BaseModel):
    user_id: uuid.UUID
    weekly_hours: Decimal


class DayCell(BaseModel):
    day: date
    duration_seconds: int


class DashboardMember(BaseModel):
    user_id: uuid.UUID
    name: str | None
    days: list[DayCell]
    total_seconds: int


class TopProject(BaseModel):
    project_id: uuid.UUID
    name: str
    duration_seconds: int


class RunningTimer(BaseModel):
    entry_id: uuid.UUID
    user_id: uuid.UUID
    name: str | None
    project_id: uuid.UUID
    project_name: str
    start_at: datetime
    elapsed_seconds: int


class PendingTimesheet(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    name: str | None
    week: str
    submitted_at: datetime | None


class Dashboard(BaseModel):
    week: str
    time_zone: str
    scope: Literal["organization", "led_projects", "own"]
    this_week: list[DashboardMember]
    top_projects: list[TopProject]
    running_timers: list[RunningTimer]
    awaiting_my_approval: list[PendingTimesheet]
    over_budget: list[ProjectFigures]
