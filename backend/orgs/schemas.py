from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from backend.core.validation import SafeText
from backend.tenancy.roles import MembershipStatus, OrgRole

Slug = Annotated[
    SafeText,
    StringConstraints(min_length=1, max_length=63, pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"),
    Field(description="Lowercase letters, digits and inner hyphens; unique across the platform"),
]
OrgName = Annotated[SafeText, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class OrganizationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: OrgName
    slug: Slug


class OrganizationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: OrgName | None = None
    slug: Slug | None = None


class OrganizationRead(BaseModel):
    id: uuid.UUID
    slug: str
    name: str
    archived_at: datetime | None
    created_at: datetime
    my_role: OrgRole
    membership_status: MembershipStatus = Field(description="`invited` until you accept the invitation")


class AuditEventRead(BaseModel):
    seq: int
    occurred_at: datetime
    actor_user_id: uuid.UUID | None
    actor_client_id: str | None
    action: str
    resource_type: str
    resource_id: str
    request_id: str | None
    changes: dict[str, object] | None
    hash: str


class AuditChainRead(BaseModel):
    """The organization's audit chain, recomputed now from its first event."""

    verified: bool = Field(
        description="Every event fits: sequence without gaps, each hash over its content and the previous hash"
    )
    events: int = Field(description="Events checked (up to the first that does not fit)")
    head_seq: int | None = Field(description="The newest event's sequence number")
    head_hash: str | None = Field(
        description="The newest event's hash: note it to detect a later rewrite or truncation"
    )
    broken_seq: int | None = Field(description="The first event that does not fit")
    reason: str | None
    checked_at: datetime
