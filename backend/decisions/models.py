"""Decisions, per project or organization-wide. Accepted decisions are immutable except for being
superseded by a later accepted decision."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Column, ForeignKey, ForeignKeyConstraint, Index, String, Text
from sqlalchemy import UniqueConstraint as Unique
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field, SQLModel

from backend.core.models import tenant_fk, timestamp_field, uuid_pk
from backend.tenancy.roles import sql_check


class DecisionStatus(enum.StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    SUPERSEDED = "superseded"
    REJECTED = "rejected"


class Decision(SQLModel, table=True):
    __tablename__ = "decisions"
    __table_args__ = (
        tenant_fk("org_id"),
        Unique("org_id", "id"),
        ForeignKeyConstraint(["org_id", "project_id"], ["projects.org_id", "projects.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["org_id", "superseded_by_id"], ["decisions.org_id", "decisions.id"], ondelete="RESTRICT"),
        CheckConstraint(sql_check("status", DecisionStatus), name="status"),
        CheckConstraint("(status = 'proposed') = (decided_at IS NULL)", name="decided"),
        CheckConstraint("(status = 'superseded') = (superseded_by_id IS NOT NULL)", name="superseded"),
        Index("ix_decisions_org_project", "org_id", "project_id"),
    )

    id: uuid.UUID = uuid_pk()
    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    project_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    title: str = Field(sa_column=Column(String(300), nullable=False))
    context: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    decision: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    status: str = Field(default=DecisionStatus.PROPOSED.value, sa_column=Column(String(16), nullable=False))
    decided_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    decided_by: uuid.UUID | None = Field(
        default=None, sa_column=Column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL"))
    )
    superseded_by_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    created_by: uuid.UUID | None = Field(
        default=None, sa_column=Column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL"))
    )
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
