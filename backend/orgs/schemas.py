from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

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


class OrganizationSecurity(BaseModel):
    model_config = ConfigDict(extra="forbid")
    require_mfa_for_admins: bool = Field(
        description="Owners and admins act above a member's rights only when they signed in with a second "
        "factor (one-time code); turning it on needs a sign-in that used one"
    )


class OrganizationRead(BaseModel):
    id: uuid.UUID
    slug: str
    name: str
    archived_at: datetime | None
    created_at: datetime
    require_mfa_for_admins: bool = Field(
        default=False, description="Owners and admins need a second factor for anything above a member's rights"
    )
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


class AuditAnchorRead(BaseModel):
    """One signed anchor: the chain's head as it was at ``anchored_at``."""

    id: int
    head_seq: int
    head_event_id: int
    head_hash: str
    events: int
    reason: str = Field(description="`period_lock`, `schedule` or `manual`")
    anchored_at: datetime
    key_id: str = Field(description="The export signing key that signed it (`GET …/exports/signing-key`)")
    statement: dict[str, object] = Field(description="The signed statement, to keep a copy elsewhere")


class AuditAnchorsState(BaseModel):
    """Whether every anchor's signature verifies and the chain still holds every anchored head."""

    verified: bool
    anchors: int = Field(description="Anchors checked")
    latest: AuditAnchorRead | None
    broken_anchor_id: int | None = Field(description="The first anchor that fails")
    problem: str | None = Field(description="`truncated`, `rewritten` or `signature`")
    reason: str | None


class AuditChainRead(BaseModel):
    """The organization's audit chain, recomputed now from its first event, and its signed anchors."""

    verified: bool = Field(
        description="Every event fits: sequence without gaps, each hash over its content and the previous hash,"
        " and the chain still holds every anchored head (see `anchors`)"
    )
    events: int = Field(description="Events checked (up to the first that does not fit)")
    head_seq: int | None = Field(description="The newest event's sequence number")
    head_hash: str | None = Field(
        description="The newest event's hash: note it to detect a later rewrite or truncation"
    )
    broken_seq: int | None = Field(description="The first event that does not fit")
    reason: str | None
    checked_at: datetime
    anchors: AuditAnchorsState


# --- offboarding (backend/orgs/offboarding.py) ----------------------------------------------------------


class OrgDeletionRead(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    slug: str
    name: str
    status: Literal["scheduled", "cancelled", "purging", "purged"]
    requested_by: uuid.UUID
    scheduled_at: datetime
    purge_after: datetime = Field(description="The purge runs at the first scheduled tick after this time")
    cancelled_at: datetime | None
    purge_started_at: datetime | None
    purged_at: datetime | None


class OffboardingRead(BaseModel):
    deletion: OrgDeletionRead | None = Field(description="The open (scheduled or purging) deletion, if any")
    grace_days: int = Field(description="Days between scheduling a deletion and its purge on this server")


class OffboardingExportRead(BaseModel):
    id: uuid.UUID
    status: Literal["queued", "running", "done", "failed"]
    requested_by: uuid.UUID
    error: str | None
    file_name: str | None
    size_bytes: int | None
    sha256: str | None = Field(description="Of the zip file")
    manifest_sha256: str | None = Field(description="Of manifest.json, as the deletion record keeps it")
    manifest: dict[str, Any] | None
    created_at: datetime
    finished_at: datetime | None


class OffboardingLink(BaseModel):
    url: str
    expires_at: datetime
