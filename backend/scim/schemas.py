from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ScimTokenRead(BaseModel):
    hint: str = Field(description="The secret's last four characters, to tell secrets apart.")
    created_at: datetime
    last_used_at: datetime | None


class ScimTokenCreated(ScimTokenRead):
    token: str = Field(description="The SCIM bearer secret. Shown once: only its digest is kept.")
