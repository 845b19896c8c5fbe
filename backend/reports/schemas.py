from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from backend.core.validation import SafeText
from backend.worktime import service as worktime_service

GroupKey = Literal["project", "client", "user", "task", "tag", "day", "week", "month"]
ScopeKind = Literal["organization", "led_projects", "own"]
Approval = Literal["open", "submitted", "approved", "rejected", "reopened"]
RelativeRange = Literal[
    "today",
    "yesterday",
    "this_week",
    "last_week",
    "this_month",
    "last_month",
    "this_year",
    "last_year",
    "last_7_days",
    "last_30_days",
]
MAX_PERIOD_DAYS = 400
# Days a report may name (so a period's bounds stay representable in every zone).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)
# Share links of saved reports: how long one works (days).
LINK_DEFAULT_DAYS, LINK_MAX_DAYS = 30, 90


class TimeReportQuery(BaseModel):
    """The time report's question: its period (``from``/``to`` dates, or a ``range`` resolved in ``tz``
    when the report runs), zone, grouping and filters. The one definition behind ``GET /reports/time``
    (its query string) and saved reports (their ``query``)."""

    model_config = ConfigDict(populate_by_name=True)

    from_: date | None = Field(default=None, alias="from", description="First day (in tz); with `to`")
    to: date | None = Field(default=None, description="Last day, inclusive (in tz); with `from`")
    range: RelativeRange | None = Field(
        default=None, description="Instead of from/to: a period counted from the day the report runs (in tz)"
    )
    tz: SafeText = Field(default="UTC", max_length=64, description="IANA zone days, weeks and months are cut in")
    group_by: list[GroupKey] = Field(default_factory=list, max_length=2, description="Up to two levels")
    project_id: list[uuid.UUID] = Field(default_factory=list, max_length=200)
    user_id: list[uuid.UUID] = Field(default_factory=list, max_length=200)
    client_id: list[uuid.UUID] = Field(default_factory=list, max_length=200)
    tag: list[SafeText] = Field(default_factory=list, max_length=50)
    billable: bool | None = None
    approval: list[Approval] = Field(default_factory=list)
    scope: ScopeKind | None = Field(
        default=None, description="Narrow the figures; default: the widest your roles allow"
    )

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"Unknown time zone '{value}'.") from None
        return value

    @field_validator("tag")
    @classmethod
    def _short_tags(cls, value: list[str]) -> list[str]:
        if any(not 1 <= len(tag) <= 100 for tag in value):
            raise ValueError("A tag has 1 to 100 characters.")
        return value

    @model_validator(mode="after")
    def _one_period(self) -> Self:
        if self.range is not None:
            if self.from_ is not None or self.to is not None:
                raise ValueError("Give either from and to, or range, not both.")
        elif self.from_ is None or self.to is None:
            raise ValueError("Give from and to (dates), or a range such as last_month.")
        elif min(self.from_, self.to) < FIRST_DAY or max(self.from_, self.to) > LAST_DAY:
            raise ValueError(f"Reports cover days from {FIRST_DAY} to {LAST_DAY}.")
        elif self.to < self.from_:
            raise ValueError("'to' is before 'from'.")
        elif (self.to - self.from_).days > MAX_PERIOD_DAYS:
            raise ValueError(f"A report covers at most {MAX_PERIOD_DAYS} days.")
        if len(set(self.group_by)) != len(self.group_by):
            raise ValueError("group_by takes up to two different keys.")
        return self


class SavedReportQuery(TimeReportQuery):
    """A saved report's query: the time report's, and an unknown key is an error (not ignored)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


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
    #: The person's absences that week, next to the week the approver decides on.
    absences: list[worktime_service.AbsenceRead] = []


class Dashboard(BaseModel):
    week: str
    time_zone: str
    scope: Literal["organization", "led_projects", "own"]
    this_week: list[DashboardMember]
    top_projects: list[TopProject]
    running_timers: list[RunningTimer]
    awaiting_my_approval: list[PendingTimesheet]
    over_budget: list[ProjectFigures]
    #: Each person's week: expected, tracked, overtime, running balance and absences (the people with time
    #: this week whose working time the caller may read).
    worktime: list[worktime_service.TeamWeekRow] = []


# --- saved reports and their share links -------------------------------------------------------------


def _not_blank(value: str) -> str:
    if not value:
        raise ValueError("A name needs at least one character besides spaces.")
    return value


ReportName = Annotated[
    SafeText, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_not_blank)
]


class SavedReportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ReportName
    query: SavedReportQuery
    shared: bool = Field(default=False, description="Visible to the whole organization (read and run)")


class SavedReportUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ReportName | None = None
    query: SavedReportQuery | None = None
    shared: bool | None = None


class SavedReportRead(BaseModel):
    id: uuid.UUID
    name: str
    query: TimeReportQuery
    shared: bool
    owner_id: uuid.UUID
    created_at: datetime
    updated_at: datetime


class SavedReportResult(BaseModel):
    saved_report_id: uuid.UUID
    name: str
    report: TimeReport = Field(description="The live figures, as GET /reports/time answers them for you")


class ShareLinkCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_in_days: int = Field(default=LINK_DEFAULT_DAYS, ge=1, le=LINK_MAX_DAYS)


class ShareLinkRead(BaseModel):
    id: uuid.UUID
    saved_report_id: uuid.UUID
    hint: str = Field(description="The token's last characters, to tell links apart")
    created_by: uuid.UUID
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_viewed_at: datetime | None
    views: int


class ShareLinkCreated(ShareLinkRead):
    token: str = Field(description="The secret, shown this once (only its digest is stored)")
    url: str = Field(description="The page to send people: the report's live figures, no sign-in needed")
    api_url: str = Field(description="The same view as JSON (GET /api/v1/shared-reports/{token})")


class SharedReport(BaseModel):
    """What a share link shows: the report's name and live figures, nothing else (people by display name)."""

    name: str
    period_start: datetime
    period_end: datetime
    time_zone: str
    group_by: list[GroupKey]
    groups: list[Group]
    totals: Figures
    expires_at: datetime
