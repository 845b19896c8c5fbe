from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from backend.decisions.models import DecisionStatus

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Markdown = Annotated[str, StringConstraints(max_length=50_000)]


class DecisionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Title
    context: Markdown = ""
    decision: Markdown = ""
    project_id: uuid.UUID | None = None


class DecisionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Title | None = None
    context: Markdown | None = None
    decision: Markdown | None = None


class Supersede(BaseModel):
    model_config = ConfigDict(extra="forbid")
    superseded_by: uuid.UUID


class DecisionRead(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID | None
    title: str
    context: str
    decision: str
    status: DecisionStatus
    decided_at: datetime | None
    decided_by: uuid.UUID | None
    superseded_by_id: uuid.UUID | None
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
