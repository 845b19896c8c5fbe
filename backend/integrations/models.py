"""Connector instances: one row per configured integration (a connector kind plus its config and
sealed secrets), per organization and, for personal connectors such as the calendar feed, per person."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKeyConstraint, Index, LargeBinary, String
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlmodel import Field, SQLModel

from backend.core.models import tenant_fk, timestamp_field


class Integration(SQLModel, table=True):
    __tablename__ = "integrations"
    __table_args__ = (
        tenant_fk("org_id"),
        ForeignKeyConstraint(["org_id", "user_id"], ["memberships.org_id", "memberships.user_id"], ondelete="CASCADE"),
        Index("ix_integrations_org_kind_user", "org_id", "kind", "user_id"),
        Index("uq_integrations_lookup_hash", "lookup_hash", unique=True),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(UUID(as_uuid=True), primary_key=True))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    user_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    name: str = Field(default="", sa_column=Column(String(200), nullable=False, server_default=""))
    config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    # A JSON object of the connector's secrets, Fernet-sealed (backend/core/secrets.py). Never returned.
    secrets_sealed: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    # SHA-256 of a secret URL token (the calendar feed's), to find the row before any tenant is bound.
    lookup_hash: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    created_by: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
