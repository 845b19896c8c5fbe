from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from backend.core.validation import SafeMultilineText, SafeText
from backend.tenancy.models import BudgetKind, BudgetPeriod, Priority, ProjectStatus
from backend.tenancy.roles import ProjectRole

ProjectName = Annotated[SafeText, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[SafeMultilineText, StringConstraints(max_length=10_000)]
# Patterns are case-insensitive here: values are upper- or lower-cased after matching.
KEY_SHAPE = r"^[A-Za-z][A-Za-z0-9]{1,9}$"
ProjectKey = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=KEY_SHAPE)]
Color = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^#[0-9a-fA-F]{6}$")]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=50)]
Tags = Annotated[list[Tag], Field(max_length=20)]
Hours = Annotated[Decimal, Field(ge=0, le=99_999_999, max_digits=10, decimal_places=2)]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Currency = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{3}$")]


class _ProjectFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: Description | None = None
    client_id: uuid.UUID | None = None
    status: ProjectStatus | None = None
    priority: Priority | None = None
    color: Color | None = None
    tags: Tags | None = None
    start_date: date | None = None
    due_date: date | None = None
    estimate_hours: Hours | None = None
    budget_kind: BudgetKind | None = None
    budget_period: BudgetPeriod | None = None
    budget_amount: Money | None = None
    currency: Currency | None = None
    billable: bool | None = None
    hourly_rate: Money | None = None
    fixed_fee: Money | None = None


class ProjectCreate(_ProjectFields):
    name: ProjectName
    key: ProjectKey | None = Field(
        default=None, description="Short code for task numbers; derived from the name if absent"
    )

    @model_validator(mode="after")
    def _dates(self) -> ProjectCreate:
        if self.start_date and self.due_date and self.due_date < self.start_date:
            raise ValueError("due_date must not be before start_date")
        return self


class ProjectUpdate(_ProjectFields):
    name: ProjectName | None = None
    key: ProjectKey | None = None


# The project read (and its burn) can arrive as JSON numbers (app_enter's project_row), which lose
# trailing zeros: give them back their column's scale, so the GET's body and ETag match the PATCH's.
Hundredths = Annotated[Decimal, AfterValidator(lambda value: value.quantize(Decimal("0.01")))]
Tenths = Annotated[Decimal, AfterValidator(lambda value: value.quantize(Decimal("0.1")))]


class BudgetBurn(BaseModel):
    """Time and money used on the project, from its finished time entries (corrections included), and
    how much of the budget that is. One SQL function computes it for this read and for the projects
    report (``project_burn``, migration 0013)."""

    seconds: int = Field(description="All recorded time")
    hours: Hundredths
    amount: Hundredths = Field(description="Billable amount of all recorded time (entry rate x duration)")
    month_seconds: int = Field(description="This month's time (the month in the reader's time zone)")
    month_hours: Hundredths
    month_amount: Hundredths
    budget_used: Hundredths | None = Field(
        description="Hours or money counted against the budget (this month's for a monthly budget); null without one"
    )
    burn_percent: Tenths | None = Field(description="budget_used as a percentage of budget_amount")
    over_budget: bool


class ProjectRead(BaseModel):
    id: uuid.UUID
    name: str
    key: str
    description: str | None
    client_id: uuid.UUID | None
    status: ProjectStatus
    priority: Priority
    color: str | None
    tags: list[str]
    start_date: date | None
    due_date: date | None
    estimate_hours: Hundredths | None
    budget_kind: BudgetKind | None
    budget_period: BudgetPeriod | None
    budget_amount: Hundredths | None
    currency: str | None
    billable: bool
    hourly_rate: Hundredths | None
    fixed_fee: Hundredths | None
    archived_at: datetime | None
    created_at: datetime
    my_role: ProjectRole | None
    budget_burn: BudgetBurn | None = Field(
        default=None,
        description="On the project read and list, for callers who may read the team's time on the project "
        "(leads, and organization roles with team reports); null otherwise",
    )


class ProjectMemberRead(BaseModel):
    user_id: uuid.UUID
    email: str | None
    display_name: str | None
    role: ProjectRole


class ProjectRoleAssignment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: ProjectRole
