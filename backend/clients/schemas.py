from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

ClientName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ContactName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
# A contact address on file, never mailed by the platform: a shape check is enough.
EMAIL_SHAPE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
ContactEmail = Annotated[str, StringConstraints(strip_whitespace=True, max_length=320, pattern=EMAIL_SHAPE)]
Notes = Annotated[str, StringConstraints(max_length=10_000)]


class ClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: ClientName
    contact_name: ContactName | None = None
    contact_email: ContactEmail | None = None
    notes: Notes | None = None


class ClientUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: ClientName | None = None
    contact_name: ContactName | None = None
    contact_email: ContactEmail | None = None
    notes: Notes | None = None


class ClientRead(BaseModel):
    id: uuid.UUID
    name: str
    contact_name: str | None
    contact_email: str | None
    notes: str | None
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
