"""Offboarding's tables (migration 0036): an owner's full-data exports, and the record of deletions that
outlives the organization it names (docs/operations.md "Tenant offboarding")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Column, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlmodel import Field, SQLModel

from backend.core.models import tenant_fk, timestamp_field

OFFBOARDING_EXPORT_STATUSES = ("queued", "running", "done", "failed")
DELETION_STATUSES = ("scheduled", "cancelled", "purging", "purged")


class OffboardingExport(SQLModel, table=True):
    __tablename__ = "offboarding_exports"
    __table_args__ = (
        tenant_fk("org_id"),
        CheckConstraint(f"status IN {OFFBOARDING_EXPORT_STATUSES!r}", name="status"),
        Index("ix_offboarding_exports_org_id_created_at", "org_id", "created_at"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(UUID(as_uuid=True), primary_key=True))
    status: str = Field(default="queued", sa_column=Column(String(16), nullable=False))
    requested_by: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="RESTRICT"), nullable=False)
    )
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    error: str | None = Field(default=None, sa_column=Column(Text))
    file_name: str | None = Field(default=None, sa_column=Column(String(255)))
    size_bytes: int | None = Field(default=None, sa_column=Column(BigInteger))
    sha256: str | None = Field(default=None, sa_column=Column(String(64)))
    manifest_sha256: str | None = Field(default=None, sa_column=Column(String(64)))
    manifest: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    created_at: datetime = timestamp_field()
    started_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    finished_at: datetime | None = timestamp_field(nullable=True, default_now=False)


class OrgDeletion(SQLModel, table=True):
    """Not a tenant table: no ``org_id``, no foreign key to the organization it names."""

    __tablename__ = "org_deletions"
    __table_args__ = (
        CheckConstraint(f"status IN {DELETION_STATUSES!r}", name="status"),
        Index("ix_org_deletions_due", "status", "purge_after"),
        # One open deletion per organization.
        Index(
            "uq_org_deletions_open",
            "organization_id",
            unique=True,
            postgresql_where=text("status IN ('scheduled', 'purging')"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(UUID(as_uuid=True), primary_key=True))
    organization_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    slug: str = Field(sa_column=Column(String(63), nullable=False))
    name: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="scheduled", sa_column=Column(String(16), nullable=False))
    requested_by: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    requested_by_email: str | None = Field(default=None, sa_column=Column(String(320)))
    was_archived: bool = Field(sa_column=Column(Boolean, nullable=False))
    scheduled_at: datetime = timestamp_field()
    purge_after: datetime = timestamp_field()
    cancelled_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    cancelled_by: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    purge_started_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    rows_purged_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    purged_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    counts: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    storage_objects: int | None = Field(default=None, sa_column=Column(Integer))
    keycloak: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    export_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    export_manifest_sha256: str | None = Field(default=None, sa_column=Column(String(64)))
