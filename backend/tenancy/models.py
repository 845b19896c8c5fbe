"""The tables every domain builds on: people, organizations (the tenants), memberships, projects and
project roles. Role columns are checked against :mod:`backend.tenancy.roles`."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
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
    #: Digest of the SSO claims last applied for this person (backend/sso/login.py; migration 0037).
    sso_digest: str | None = Field(default=None, sa_column=Column(String(64)))
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class Organization(SQLModel, table=True):
    """A tenant. Its own id is the tenant key that every other tenant row carries as ``org_id``."""

    __tablename__ = "organizations"

    id: uuid.UUID = uuid_pk()
    slug: str = Field(sa_column=Column(String(63), nullable=False, unique=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    archived_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    #: Owners and admins act above a member's rights only with a second factor in their token (the guard).
    require_mfa_for_admins: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
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
    # The current invitation link's nonce (a new one on every email; NULL once answered): see
    # backend/members/links.py. When the latest invitation email was queued (resend rate limit).
    invite_nonce: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True), nullable=True))
    invite_sent_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class ProjectStatus(enum.StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    DONE = "done"


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class BudgetKind(enum.StrEnum):
    HOURS = "hours"
    MONEY = "money"


class BudgetPeriod(enum.StrEnum):
    TOTAL = "total"
    MONTHLY = "monthly"


#: A project key: an uppercase letter, then up to 9 uppercase letters or digits (``WEB``, ``APP2``).
PROJECT_KEY_PATTERN = "^[A-Z][A-Z0-9]{1,9}$"


class Client(SQLModel, table=True):
    """A customer of the organization; projects may belong to one. Here (not in the clients domain)
    because projects reference it and projects belong to the tenancy layer."""

    __tablename__ = "clients"
    __table_args__ = (tenant_fk("org_id"), UniqueConstraint("org_id", "id"), UniqueConstraint("org_id", "name"))

    id: uuid.UUID = uuid_pk()
    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    contact_name: str | None = Field(default=None, sa_column=Column(String(200)))
    contact_email: str | None = Field(default=None, sa_column=Column(String(320)))
    notes: str | None = Field(default=None, sa_column=Column(Text))
    archived_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class Project(SQLModel, table=True):
    __tablename__ = "projects"
    __table_args__ = (
        tenant_fk("org_id"),
        # Tenant rows reference each other through (org_id, id), so a row can never point across tenants.
        UniqueConstraint("org_id", "id"),
        UniqueConstraint("org_id", "name"),
        UniqueConstraint("org_id", "key"),
        # A client with projects cannot be deleted (archive it instead).
        ForeignKeyConstraint(["org_id", "client_id"], ["clients.org_id", "clients.id"], ondelete="RESTRICT"),
        CheckConstraint(f"key ~ '{PROJECT_KEY_PATTERN}'", name="key_format"),
        CheckConstraint(sql_check("status", ProjectStatus), name="status"),
        CheckConstraint(sql_check("priority", Priority), name="priority"),
        CheckConstraint(sql_check("budget_kind", BudgetKind), name="budget_kind"),
        CheckConstraint(sql_check("budget_period", BudgetPeriod), name="budget_period"),
        CheckConstraint("color ~ '^#[0-9a-f]{6}$'", name="color_format"),
        CheckConstraint("due_date IS NULL OR start_date IS NULL OR due_date >= start_date", name="dates"),
        Index("ix_projects_org_client", "org_id", "client_id"),
        Index("ix_projects_tags", "tags", postgresql_using="gin"),
    )

    id: uuid.UUID = uuid_pk()
    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    description: str | None = Field(default=None, sa_column=Column(Text))
    # Projects from before keys existed got one derived from their name (migration 0011).
    key: str = Field(sa_column=Column(String(10), nullable=False))
    client_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    status: str = Field(
        default=ProjectStatus.ACTIVE.value, sa_column=Column(String(16), nullable=False, server_default="active")
    )
    priority: str = Field(
        default=Priority.NORMAL.value, sa_column=Column(String(16), nullable=False, server_default="normal")
    )
    color: str | None = Field(default=None, sa_column=Column(String(7)))
    tags: list[str] = Field(
        default_factory=list, sa_column=Column(ARRAY(String(50)), nullable=False, server_default=text("'{}'"))
    )
    start_date: date | None = Field(default=None, sa_column=Column(Date))
    due_date: date | None = Field(default=None, sa_column=Column(Date))
    estimate_hours: Decimal | None = Field(default=None, sa_column=Column(Numeric(10, 2)))
    budget_kind: str | None = Field(default=None, sa_column=Column(String(16)))
    budget_period: str | None = Field(default=None, sa_column=Column(String(16)))
    budget_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 2)))
    currency: str | None = Field(default=None, sa_column=Column(String(3)))
    billable: bool = Field(default=True, sa_column=Column(Boolean, nullable=False, server_default=text("true")))
    hourly_rate: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2)))
    fixed_fee: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 2)))
    # The last task number handed out; incremented with UPDATE ... RETURNING (the row lock orders racers).
    task_seq: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default=text("0")))
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
