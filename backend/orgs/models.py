from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field, SQLModel

from backend.core.models import tenant_fk, timestamp_field, uuid_pk


class OrgRole(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MANAGER = "manager"
    MEMBER = "member"
    AUDITOR = "auditor"


class MembershipStatus(enum.StrEnum):
    ACTIVE = "active"
    INVITED = "invited"


class Organization(SQLModel, table=True):
    """A tenant. Its own id is the tenant key that every other tenant row carries as ``org_id``."""

    __tablename__ = "organizations"

    id: uuid.UUID = uuid_pk()
    slug: str = Field(sa_column=Column(String(63), nullable=False, unique=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    archived_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class Membership(SQLModel, table=True):
    __tablename__ = "memberships"
    __table_args__ = (
        tenant_fk("org_id"),
        CheckConstraint(f"role IN ({', '.join(repr(r.value) for r in OrgRole)})", name="role"),
        CheckConstraint(f"status IN ({', '.join(repr(s.value) for s in MembershipStatus)})", name="status"),
        # "My organizations" is looked up by user across tenants.
        Index("ix_memberships_user_id", "user_id"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    user_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    role: str = Field(sa_column=Column(String(32), nullable=False))
    status: str = Field(default=MembershipStatus.ACTIVE.value, sa_column=Column(String(16), nullable=False))
    invited_by: uuid.UUID | None = Field(
        default=None, sa_column=Column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL"))
    )
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
