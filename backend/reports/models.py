"""Report settings (each member's weekly capacity: productivity's expected hours; absent means 40), saved
reports and their share links."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    PrimaryKeyConstraint,
    String,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlmodel import Field, SQLModel

from backend.core.models import timestamp_field


class MemberCapacity(SQLModel, table=True):
    __tablename__ = "member_capacities"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "user_id"], ["memberships.org_id", "memberships.user_id"], ondelete="CASCADE"),
        PrimaryKeyConstraint("org_id", "user_id"),
        CheckConstraint("weekly_hours >= 0 AND weekly_hours <= 168", name="weekly_hours"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    user_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    weekly_hours: Decimal = Field(sa_column=Column(Numeric(5, 2), nullable=False))
    updated_at: datetime = timestamp_field()


class SavedReport(SQLModel, table=True):
    """A named time report query (migration 0031): its owner's, or the organization's when shared."""

    __tablename__ = "saved_reports"
    __table_args__ = (
        ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        PrimaryKeyConstraint("org_id", "id"),
        Index("ix_saved_reports_owner", "org_id", "owner_id"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(UUID(as_uuid=True), nullable=False))
    owner_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    query: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    shared: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class ReportShareLink(SQLModel, table=True):
    """A read-only public link to a saved report's live figures: the token's SHA-256 digest, an expiry, a
    revocation stamp, and how often it was viewed."""

    __tablename__ = "report_share_links"
    __table_args__ = (
        ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(
            ["org_id", "saved_report_id"], ["saved_reports.org_id", "saved_reports.id"], ondelete="CASCADE"
        ),
        PrimaryKeyConstraint("org_id", "id"),
        Index("ix_report_share_links_report", "org_id", "saved_report_id"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(UUID(as_uuid=True), nullable=False))
    saved_report_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    token_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False, unique=True))
    hint: str = Field(sa_column=Column(String(16), nullable=False))
    created_by: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    created_at: datetime = timestamp_field()
    expires_at: datetime = timestamp_field(default_now=False)
    revoked_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    last_viewed_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    views: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
