from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from backend.tenancy.models import Priority
from backend.work.models import TaskStatus

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Markdown = Annotated[str, StringConstraints(max_length=50_000)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=50)]
Hours = Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=2)]
Assignees = Annotated[list[uuid.UUID], Field(max_length=20)]


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Title
    description: Markdown | None = None
    status: TaskStatus = TaskStatus.TODO
    priority: Priority = Priority.NORMAL
    due_date: date | None = None
    reminder_at: AwareDatetime | None = Field(default=None, description="When the assignees are reminded")
    estimate_hours: Hours | None = None
    labels: Annotated[list[Label], Field(max_length=20)] = []
    assignee_ids: Assignees = []


class TaskUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Title | None = None
    description: Markdown | None = None
    status: TaskStatus | None = None
    priority: Priority | None = None
    due_date: date | None = None
    reminder_at: AwareDatetime | None = Field(default=None, description="null removes the reminder")
    estimate_hours: Hours | None = None
    labels: Annotated[list[Label], Field(max_length=20)] | None = None
    assignee_ids: Assignees | None = None


class TaskRead(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    number: int
    ref: str = Field(description="The task's number with its project key, e.g. WEB-42")
    title: str
    description: str | None
    status: TaskStatus
    priority: Priority
    due_date: date | None
    reminder_at: datetime | None
    estimate_hours: Decimal | None
    labels: list[str]
    assignee_ids: list[uuid.UUID]
    completed_at: datetime | None
    created_by: uuid.UUID | None
    deleted_at: datetime | None
    created_at: datetime
    updated_at: datetime


class CommentWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50_000)]


class CommentRead(BaseModel):
    id: uuid.UUID
    task_id: uuid.UUID
    author_id: uuid.UUID | None
    body: str
    edited_at: datetime | None
    created_at: datetime


class AttachmentRead(BaseModel):
    id: uuid.UUID
    task_id: uuid.UUID
    comment_id: uuid.UUID | None
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_by: uuid.UUID | None
    created_at: datetime
