"""An organization's SCIM bearer secret (migration 0025): only its SHA-256 digest is kept."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, LargeBinary, String
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field, SQLModel

from backend.core.models import tenant_fk, timestamp_field


class ScimToken(SQLModel, table=True):
    """The one SCIM secret an organization's identity provider presents (absent row: SCIM is off)."""

    __tablename__ = "scim_tokens"
    __table_args__ = (tenant_fk("org_id"),)

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    token_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False, unique=True))
    hint: str = Field(sa_column=Column(String(16), nullable=False))
    created_by: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True), nullable=True))
    created_at: datetime = timestamp_field()
    last_used_at: datetime | None = timestamp_field(nullable=True, default_now=False)
