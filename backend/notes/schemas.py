from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from backend.notes.models import SharePermission

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Markdown = Annotated[str, StringConstraints(max_length=100_000)]


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Title
    body: Markdown = ""
    project_id: uuid.UUID | None = None
    client_id: uuid.UUID | None = None
    pinned: bool = False


class NoteUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Title | None = None
    body: Markdown | None = None
    project_id: uuid.UUID | None = None
    client_id: uuid.UUID | None = None
    pinned: bool | None = None


class NoteRead(BaseModel):
    id: uuid.UUID
    author_id: uuid.UUID
    title: str
    body: str
    project_id: uuid.UUID | None
    client_id: uuid.UUID | None
    pinned: bool
    my_access: Literal["author", "edit", "view"]
    created_at: datetime
    updated_at: datetime
    shares: list[ShareRead] | None = Field(
        default=None, description="In lists, on your own notes: who they are shared with (empty: private)"
    )


class ShareCreate(BaseModel):
    """Share with one member (``user_id``) or with everyone holding a role in a project (``project_id``)."""

    model_config = ConfigDict(extra="forbid")
    user_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    permission: SharePermission = SharePermission.VIEW

    @model_validator(mode="after")
    def _one_target(self) -> ShareCreate:
        if (self.user_id is None) == (self.project_id is None):
            raise ValueError("give exactly one of user_id and project_id")
        return self


class ShareRead(BaseModel):
    id: uuid.UUID
    note_id: uuid.UUID
    user_id: uuid.UUID | None
    project_id: uuid.UUID | None
    permission: SharePermission
    created_at: datetime
