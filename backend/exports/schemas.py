from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from backend.exports.models import MAX_RETENTION_HOURS

Approval = Literal["open", "submitted", "approved", "rejected", "reopened"]


class ExportCreate(BaseModel):
    kind: Literal["detailed", "timesheet", "summary", "audit"] = Field(
        description="Time entries (detailed, timesheet, summary), or the audit trail (audit: CSV, needs audit:read)"
    )
    format: Literal["csv", "pdf", "xlsx"]
    from_: date = Field(alias="from", description="First day, in time_zone")
    to: date = Field(description="Last day (inclusive), in time_zone")
    time_zone: str = "UTC"
    project_ids: list[uuid.UUID] = Field(default_factory=list, max_length=200)
    user_ids: list[uuid.UUID] = Field(default_factory=list, max_length=200)
    client_ids: list[uuid.UUID] = Field(default_factory=list, max_length=200)
    tags: list[str] = Field(default_factory=list, max_length=50)
    billable: bool | None = None
    approval: list[Approval] = Field(default_factory=list)
    # The audit trail's filters (kind=audit); the period applies to when each event occurred.
    actor_user_id: uuid.UUID | None = None
    action: str | None = Field(default=None, max_length=100, description="An action, or a prefix ending in '.'")
    resource_type: str | None = Field(default=None, max_length=100)
    resource_id: str | None = Field(default=None, max_length=200)

    model_config = {"populate_by_name": True}


class Progress(BaseModel):
    rows_done: int
    rows_total: int
    percent: float


class ExportRead(BaseModel):
    id: uuid.UUID
    kind: str
    format: str
    status: Literal["queued", "running", "done", "failed", "expired"]
    progress: Progress
    filters: dict[str, Any]
    time_zone: str
    period_start: date
    period_end: date
    error: str | None
    sha256: str | None
    size_bytes: int | None
    manifest: dict[str, Any] | None
    requested_by: uuid.UUID
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None


class ExportLink(BaseModel):
    url: str
    expires_at: datetime


class SigningKeyRead(BaseModel):
    key_id: str
    algorithm: Literal["Ed25519"]
    public_key: str = Field(description="Raw 32-byte key, base64")
    public_key_pem: str


class ExportSettingsRead(BaseModel):
    retention_hours: int = Field(description="How long a finished export's file is kept before the sweep removes it")
    default: bool = Field(description="True while the organization uses the server's default retention")


class ExportSettingsUpdate(BaseModel):
    retention_hours: int = Field(ge=1, le=MAX_RETENTION_HOURS, examples=[720])
