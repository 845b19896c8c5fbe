"""The tables every domain builds on: people, organizations (the tenants), memberships, projects and
project roles. Role columns are checked against :mod:`backend.tenancy.roles`."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Column, ForeignKey, ForeignKeyConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field, SQLModel

from backend.core.models import tenant_fk, timestamp_field, uuid_pk
from backend.tenancy.roles import MembershipStatus, OrgRole, ProjectRole, sql_check


class User(SQLModel, table=True):
    """A person or service account, keyed by the Keycloak subject. Provisioned on first call."""

    __tablename__ = "users"

    id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    username: str | None = Field(default=None, sa_column=Column(String(255)))
    email: str | None = Field(default=None, sa_column=Column(String(320)))
    display_name: str | None = Field(default=None, sa_column=Column(Text))
    is_service_account: bool = False
    disabled_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


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
        CheckConstraint(sql_check("role", OrgRole), name="role"),
        CheckConstraint(sql_check("status", MembershipStatus), name="status"),
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
        CheckConstraint(sql_check("role", ProjectRole), name="role"),  # ck_project_memberships_role
        Index("ix_project_memberships_org_user", "org_id", "user_id"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    project_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    user_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    role: str = Field(sa_column=Column(String(32), nullable=False))
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
