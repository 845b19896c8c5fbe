from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from backend.events.models import EventStatus, Privacy, Rsvp

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Place = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]
RRule = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    Field(description="An RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO;COUNT=10 (UNTIL in UTC)"),
]


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone '{name}'") from None
    return name


StatusField = Annotated[
    EventStatus,
    Field(description="confirmed, tentative or cancelled (a cancelled event stays listed, shown as cancelled)"),
]
PrivacyField = Annotated[
    Privacy,
    Field(
        description="public (every member reads it) or private (only its creator and attendees read it; "
        "the others see busy time: no title, description, location, project or attendees)"
    ),
]
BUSY_DESCRIPTION = (
    "true for a private event you neither created nor attend: you see when it is, not what it is "
    "(title, description, location, project and attendees are null or empty)"
)

TimeZoneName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_zone),
    Field(
        description="The IANA zone the event repeats in, e.g. Europe/Berlin: a recurring event keeps its "
        "wall-clock time there across daylight-saving changes",
        examples=["Europe/Berlin"],
    ),
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
    timezone: TimeZoneName = "UTC"
    project_id: uuid.UUID | None = None
    attendee_ids: Annotated[list[uuid.UUID], Field(max_length=100)] = []
    status: StatusField = EventStatus.CONFIRMED
    privacy: PrivacyField = Privacy.PUBLIC
    reminder_at: AwareDatetime | None = Field(
        default=None, description="When the attendees are reminded (with a time zone; before the event starts)"
    )


class EventUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Title | None = None
    description: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    location: Place | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    all_day: bool | None = None
    rrule: RRule | None = None
    timezone: TimeZoneName | None = None
    project_id: uuid.UUID | None = None
    attendee_ids: Annotated[list[uuid.UUID], Field(max_length=100)] | None = None
    status: StatusField | None = None
    privacy: PrivacyField | None = Field(default=None, description="Only the event's creator makes it private")
    reminder_at: AwareDatetime | None = Field(default=None, description="null removes the reminder")


class AttendeeRead(BaseModel):
    user_id: uuid.UUID
    rsvp: Rsvp


class EventRead(BaseModel):
    id: uuid.UUID
    title: str | None = Field(description="null when busy")
    description: str | None
    location: str | None
    starts_at: datetime
    ends_at: datetime
    all_day: bool
    rrule: str | None
    timezone: str
    project_id: uuid.UUID | None
    status: EventStatus
    privacy: Privacy
    busy: bool = Field(description=BUSY_DESCRIPTION)
    reminder_at: datetime | None
    created_by: uuid.UUID | None
    attendees: list[AttendeeRead]
    cancelled_occurrences: list[datetime]
    created_at: datetime
    updated_at: datetime


class OccurrenceRead(BaseModel):
    event_id: uuid.UUID
    title: str | None = Field(description="null when busy")
    starts_at: datetime
    ends_at: datetime
    all_day: bool
    location: str | None
    project_id: uuid.UUID | None
    recurring: bool
    status: EventStatus
    privacy: Privacy
    busy: bool = Field(description=BUSY_DESCRIPTION)
    created_by: uuid.UUID | None


class RsvpWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    response: Rsvp


class CancellationWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    occurrence_start: AwareDatetime
