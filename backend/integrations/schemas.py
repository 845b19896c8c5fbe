from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from backend.integrations.connectors import IcalConfig


class ConnectorRead(BaseModel):
    kind: str
    title: str
    description: str
    personal: bool
    secret_fields: list[str]
    feeds: list[str]
    actions: list[str]
    config_schema: dict[str, Any]


class CalendarFeedWrite(IcalConfig):
    """The feed's settings; writing them again keeps the URL (rotate it with POST …/rotate)."""


class CalendarFeedRead(BaseModel):
    url: str
    config: IcalConfig
    created_at: datetime
    updated_at: datetime
