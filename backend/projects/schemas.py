from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

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


class ProjectRead(BaseModel):
    id: uuid.UUID
    name: str
    key: str | None
    description: str | None
    client_id: uuid.UUID | None
    status: ProjectStatus
    priority: Priority
    color: str | None
    tags: list[str]
    start_date: date | None
    due_date: date | None
    estimate_hours: Decimal | None
    budget_kind: BudgetKind | None
    budget_period: BudgetPeriod | None
    budget_amount: Decimal | None
    currency: str | None
    billable: bool
    hourly_rate: Decimal | None
    fixed_fee: Decimal | None
    archived_at: datetime | None
    created_at: datetime
    my_role: ProjectRole | None


class ProjectMemberRead(BaseModel):
    user_id: uuid.UUID
    email: str | None
    display_name: str | None
    role: ProjectRole


class ProjectRoleAssignment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: ProjectRole
