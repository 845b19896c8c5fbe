from __future__ import annotations

import uuid

from pydantic import BaseModel


class Me(BaseModel):
    id: uuid.UUID
    username: str | None
    email: str | None
    name: str | None
    client_id: str
    is_service_account: bool
