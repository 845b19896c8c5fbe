"""An organization's SCIM bearer secret (migration 0025: only its SHA-256 digest is kept) and its SCIM
groups (migration 0038)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, ForeignKeyConstraint, Index, LargeBinary, String, func, text
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


class ScimGroup(SQLModel, table=True):
    """A group the organization's identity provider pushed (migration 0038). Its name counts as a value
    of the ``groups`` claim for the organization's role mappings."""

    __tablename__ = "scim_groups"
    __table_args__ = (
        tenant_fk("org_id"),
        Index("uq_scim_groups_org_id_display_name", "org_id", func.lower(text("display_name")), unique=True),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(UUID(as_uuid=True), primary_key=True))
    display_name: str = Field(sa_column=Column(String(255), nullable=False))
    external_id: str | None = Field(default=None, sa_column=Column(String(255)))
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class ScimGroupMember(SQLModel, table=True):
    """A membership of the organization in one of its SCIM groups."""

    __tablename__ = "scim_group_members"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "group_id"], ["scim_groups.org_id", "scim_groups.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["org_id", "user_id"], ["memberships.org_id", "memberships.user_id"], ondelete="CASCADE"),
        Index("ix_scim_group_members_org_id_user_id", "org_id", "user_id"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    group_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    user_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
