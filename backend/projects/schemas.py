from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from backend.core.validation import SafeMultilineText, SafeText
from backend.tenancy.roles import ProjectRole

ProjectName = Annotated[SafeText, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[SafeMultilineText, StringConstraints(max_length=10_000)]


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: ProjectName
    description: Description | None = None


class ProjectUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: ProjectName | None = None
    description: Description | None = None


class ProjectRead(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
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
