"""Exports: a requested file (CSV, PDF or XLSX) made by a worker, its progress, manifest and expiry; and each
organization's Ed25519 signing key (the private half encrypted at rest)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlmodel import Field, SQLModel

from backend.core.models import tenant_fk, timestamp_field

EXPORT_KINDS = ("detailed", "timesheet", "summary", "audit")
EXPORT_FORMATS = ("csv", "pdf", "xlsx")
EXPORT_STATUSES = ("queued", "running", "done", "failed", "expired")


class Export(SQLModel, table=True):
    __tablename__ = "exports"
    __table_args__ = (
        tenant_fk("org_id"),
        PrimaryKeyConstraint("org_id", "id"),
        CheckConstraint(f"kind IN {EXPORT_KINDS!r}", name="kind"),
        CheckConstraint(f"format IN {EXPORT_FORMATS!r}", name="format"),
        CheckConstraint(f"status IN {EXPORT_STATUSES!r}", name="status"),
        Index("ix_exports_org_id_created_at", "org_id", "created_at"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(UUID(as_uuid=True), nullable=False))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    format: str = Field(sa_column=Column(String(8), nullable=False))
    filters: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    time_zone: str = Field(sa_column=Column(String(64), nullable=False))
    period_start: date = Field(sa_column=Column(Date, nullable=False))
    period_end: date = Field(sa_column=Column(Date, nullable=False))
    status: str = Field(default="queued", sa_column=Column(String(16), nullable=False))
    total_rows: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    done_rows: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    error: str | None = Field(default=None, sa_column=Column(Text))
    file_name: str | None = Field(default=None, sa_column=Column(String(255)))
    size_bytes: int | None = Field(default=None, sa_column=Column(BigInteger))
    sha256: str | None = Field(default=None, sa_column=Column(String(64)))
    manifest: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    requested_by: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="RESTRICT"), nullable=False)
    )
    created_at: datetime = timestamp_field()
    started_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    heartbeat_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    finished_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    expires_at: datetime | None = timestamp_field(nullable=True, default_now=False)


class SigningKey(SQLModel, table=True):
    """An organization's Ed25519 manifest key: the public half as raw bytes, the private half encrypted
    (AES-GCM under a key derived from the server's ``export_key_secret``)."""

    __tablename__ = "export_signing_keys"
    __table_args__ = (tenant_fk("org_id"), PrimaryKeyConstraint("org_id", "key_id"))

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    key_id: str = Field(sa_column=Column(String(32), nullable=False))
    public_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    private_key_encrypted: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = timestamp_field()


MAX_RETENTION_HOURS = 24 * 3650  # ten years: an auditor's horizon, not "forever"


class ExportSettings(SQLModel, table=True):
    """One row per organization, written on first change; absent means the server's default retention
    (``export_retention_hours``) applies."""

    __tablename__ = "export_settings"
    __table_args__ = (
        tenant_fk("org_id"),
        CheckConstraint(f"retention_hours BETWEEN 1 AND {MAX_RETENTION_HOURS}", name="retention_hours"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    retention_hours: int = Field(sa_column=Column(Integer, nullable=False))
    updated_at: datetime = timestamp_field()
