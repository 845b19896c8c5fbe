from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from backend.events.models import Rsvp

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Place = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]
RRule = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    Field(description="An RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO;COUNT=10 (UNTIL in UTC)"),
]


class EventCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Title
    description: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    location: Place | None = None
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    all_day: bool = False
    rrule: RRule | None = None
    project_id: uuid.UUID | None = None
    attendee_ids: Annotated[list[uuid.UUID], Field(max_length=100)] = []


class EventUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Title | None = None
    description: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    location: Place | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    all_day: bool | None = None
    rrule: RRule | None = None
    project_id: uuid.UUID | None = None
    attendee_ids: Annotated[list[uuid.UUID], Field(max_length=100)] | None = None


class AttendeeRead(BaseModel):
    user_id: uuid.UUID
    rsvp: Rsvp


class EventRead(BaseModel):
    id: uuid.UUID
    title: str
    description: str | None
    location: str | None
    starts_at: datetime
    ends_at: datetime
    all_day: bool
    rrule: str | None
    project_id: uuid.UUID | None
    created_by: uuid.UUID | None
    attendees: list[AttendeeRead]
    cancelled_occurrences: list[datetime]
    created_at: datetime
    updated_at: datetime


class OccurrenceRead(BaseModel):
    event_id: uuid.UUID
    title: str
    starts_at: datetime
    ends_at: datetime
    all_day: bool
    location: str | None
    project_id: uuid.UUID | None
    recurring: bool


class RsvpWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    response: Rsvp


class CancellationWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    occurrence_start: AwareDatetime
