from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Column, ForeignKeyConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field, SQLModel

from backend.core.models import tenant_fk, timestamp_field, uuid_pk


class ProjectRole(enum.StrEnum):
    LEAD = "lead"
    CONTRIBUTOR = "contributor"
    VIEWER = "viewer"


class Project(SQLModel, table=True):
    __tablename__ = "projects"
    __table_args__ = (
        tenant_fk("org_id"),
        # Tenant rows reference each other through (org_id, id), so a row can never point across tenants.
        UniqueConstraint("org_id", "id"),
        UniqueConstraint("org_id", "name"),
    )

    id: uuid.UUID = uuid_pk()
    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    description: str | None = Field(default=None, sa_column=Column(Text))
    archived_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class ProjectMembership(SQLModel, table=True):
    __tablename__ = "project_memberships"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "project_id"], ["projects.org_id", "projects.id"], ondelete="CASCADE"),
        # Leaving the organization ends every project role in it: no side door stays open.
        ForeignKeyConstraint(["org_id", "user_id"], ["memberships.org_id", "memberships.user_id"], ondelete="CASCADE"),
        CheckConstraint("role IN ('lead', 'contributor', 'viewer')", name="role"),
        Index("ix_project_memberships_org_user", "org_id", "user_id"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    project_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    user_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    role: str = Field(sa_column=Column(String(32), nullable=False))
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
