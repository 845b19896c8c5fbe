"""The connector interface: what a kind of integration declares, and the registry of kinds.

A connector has a ``kind`` (its stable name), a ``config_schema`` (a pydantic model validating the
settings an admin or person gives it, stored as JSON), the names of its ``secret_fields`` (stored
Fernet-sealed in ``integrations.secrets_sealed``, never returned nor logged), whether it is
``personal`` (one per person, like a calendar feed) and what it offers: ``feeds`` (read by an outside
system at a URL) and ``actions`` (things it does when told). docs/integrations.md shows how to add one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True, slots=True)
class Connector:
    kind: str
    title: str
    config_schema: type[BaseModel]
    secret_fields: tuple[str, ...] = ()
    personal: bool = False
    feeds: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    description: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class IcalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_time_entries: bool = True
    include_events: bool = True
    days_back: int = Field(default=90, ge=1, le=366, description="How far back the feed reaches")
    days_ahead: int = Field(default=180, ge=1, le=366, description="How far ahead calendar events reach")


class SlackConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


ICAL = Connector(
    kind="ical",
    title="iCalendar feed",
    config_schema=IcalConfig,
    secret_fields=("token",),
    personal=True,
    feeds=("calendar.ics",),
    description="Your time entries and calendar events at a secret URL that Google Calendar, Outlook or Apple"
    " Calendar can subscribe to (RFC 5545).",
)

SLACK = Connector(
    kind="slack",
    title="Slack-compatible incoming webhook",
    config_schema=SlackConfig,
    actions=("post_event",),
    description='A webhook endpoint with "format": "slack": events are posted as {"text": ...} messages, through'
    " the webhook machinery (signed, retried, logged). Register it under /webhooks.",
)

REGISTRY: dict[str, Connector] = {c.kind: c for c in (ICAL, SLACK)}
