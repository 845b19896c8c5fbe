from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ScimTokenRead(BaseModel):
    enabled: bool = Field(description="Whether the organization has a SCIM secret (SCIM is on).")
    hint: str | None = Field(description="The secret's last four characters, to tell secrets apart.")
    created_at: datetime | None
    last_used_at: datetime | None


class ScimTokenCreated(ScimTokenRead):
    token: str = Field(description="The SCIM bearer secret. Shown once: only its digest is kept.")
