from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from backend.core.hooks import EVENT_TYPES
from backend.webhooks.models import DeliveryStatus, EndpointFormat

EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]


def _unique_events(value: list[str]) -> list[str]:
    return sorted(set(value))


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2000)
    events: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES))
    format: EndpointFormat = EndpointFormat.STANDARD
    description: str = Field(default="", max_length=300)
    active: bool = True

    _events = field_validator("events")(_unique_events)


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=8, max_length=2000)
    events: list[EventType] | None = Field(default=None, min_length=1, max_length=len(EVENT_TYPES))
    description: str | None = Field(default=None, max_length=300)
    active: bool | None = Field(default=None, description="Turning a disabled endpoint on clears its failures")

    @field_validator("events")
    @classmethod
    def _unique(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _unique_events(value)


class EndpointRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    org_id: uuid.UUID
    url: str
    format: EndpointFormat
    description: str
    events: list[str]
    active: bool
    consecutive_failures: int
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


class EndpointCreated(EndpointRead):
    secret: str = Field(description="The signing secret (Standard Webhooks, whsec_…). Shown only this once.")


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    response_code: int | None
    duration_ms: int | None
    error: str | None
    redelivery_of: uuid.UUID | None
    created_at: datetime
    last_attempt_at: datetime | None
