from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from backend.core.validation import SafeText
from backend.tenancy.roles import OrgRole

TokenName = Annotated[SafeText, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class PersonalTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: TokenName = Field(description="What the token is for, e.g. 'CI export script'")
    expires_at: AwareDatetime = Field(description="Required; at most one year ahead")
    role: OrgRole | None = Field(
        default=None, description="Caps what the token may do; your own role or a lower one (default: yours)"
    )


class PersonalTokenRead(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    role: OrgRole
    hint: str = Field(description="The token's first characters, to tell tokens apart")
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class PersonalTokenCreated(PersonalTokenRead):
    token: str = Field(description="The token itself. Shown only now: store it safely.")
