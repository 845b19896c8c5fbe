"""Tasks of a project, their assignees and comments (attachments: see attachments.py)."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
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
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlmodel import Field, SQLModel

from backend.core.models import tenant_fk, timestamp_field, uuid_pk
from backend.tenancy.models import Priority
from backend.tenancy.roles import sql_check


class TaskStatus(enum.StrEnum):
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    DONE = "done"


class Task(SQLModel, table=True):
    __tablename__ = "tasks"
    __table_args__ = (
        tenant_fk("org_id"),
        UniqueConstraint("org_id", "id"),
        UniqueConstraint("org_id", "project_id", "id"),  # time entries reference their task through it
        # Numbers are handed out by the project's counter; this makes a duplicate impossible anyway.
        UniqueConstraint("project_id", "number"),
        ForeignKeyConstraint(["org_id", "project_id"], ["projects.org_id", "projects.id"], ondelete="CASCADE"),
        CheckConstraint(sql_check("status", TaskStatus), name="status"),
        CheckConstraint(sql_check("priority", Priority), name="priority"),
        CheckConstraint("(status = 'done') = (completed_at IS NOT NULL)", name="completed"),
        Index("ix_tasks_org_project", "org_id", "project_id"),
        Index("ix_tasks_org_reminder_at", "org_id", "reminder_at", postgresql_where=text("reminder_at IS NOT NULL")),
    )

    id: uuid.UUID = uuid_pk()
    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    project_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    number: int = Field(sa_column=Column(Integer, nullable=False))
    title: str = Field(sa_column=Column(String(500), nullable=False))
    description: str | None = Field(default=None, sa_column=Column(Text))
    status: str = Field(default=TaskStatus.TODO.value, sa_column=Column(String(16), nullable=False))
    priority: str = Field(default=Priority.NORMAL.value, sa_column=Column(String(16), nullable=False))
    due_date: date | None = Field(default=None, sa_column=Column(Date))
    # One reminder to the assignees; delivered once per value.
    reminder_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    estimate_hours: Decimal | None = Field(default=None, sa_column=Column(Numeric(10, 2)))
    labels: list[str] = Field(
        default_factory=list, sa_column=Column(ARRAY(String(50)), nullable=False, server_default=text("'{}'"))
    )
    completed_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    # Authors stay on their work after leaving the organization (the user row outlives the membership).
    created_by: uuid.UUID | None = Field(
        default=None, sa_column=Column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL"))
    )
    deleted_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class TaskAssignee(SQLModel, table=True):
    __tablename__ = "task_assignees"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "task_id"], ["tasks.org_id", "tasks.id"], ondelete="CASCADE"),
        # Leaving the organization ends every assignment.
        ForeignKeyConstraint(["org_id", "user_id"], ["memberships.org_id", "memberships.user_id"], ondelete="CASCADE"),
        Index("ix_task_assignees_org_user", "org_id", "user_id"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    task_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    user_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    created_at: datetime = timestamp_field()


class Comment(SQLModel, table=True):
    __tablename__ = "task_comments"
    __table_args__ = (
        tenant_fk("org_id"),
        UniqueConstraint("org_id", "id"),
        ForeignKeyConstraint(["org_id", "task_id"], ["tasks.org_id", "tasks.id"], ondelete="CASCADE"),
        Index("ix_task_comments_task_created", "task_id", "created_at"),
    )

    id: uuid.UUID = uuid_pk()
    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    task_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    author_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL"))
    )
    body: str = Field(sa_column=Column(Text, nullable=False))
    edited_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    created_at: datetime = timestamp_field()


class Attachment(SQLModel, table=True):
    """A file on a task (or on one of its comments). The bytes live in storage under ``storage_key``."""

    __tablename__ = "task_attachments"
    __table_args__ = (
        tenant_fk("org_id"),
        UniqueConstraint("org_id", "id"),
        ForeignKeyConstraint(["org_id", "task_id"], ["tasks.org_id", "tasks.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(
            ["org_id", "comment_id"], ["task_comments.org_id", "task_comments.id"], ondelete="CASCADE"
        ),
        CheckConstraint("size_bytes >= 0", name="size"),
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256"),
        Index("ix_task_attachments_task", "task_id", "created_at"),
    )

    id: uuid.UUID = uuid_pk()
    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    task_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    comment_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    filename: str = Field(sa_column=Column(String(255), nullable=False))
    content_type: str = Field(sa_column=Column(String(100), nullable=False))
    size_bytes: int = Field(sa_column=Column(BigInteger, nullable=False))
    sha256: str = Field(sa_column=Column(String(64), nullable=False))
    storage_key: str = Field(sa_column=Column(String(255), nullable=False, unique=True))
    uploaded_by: uuid.UUID | None = Field(
        default=None, sa_column=Column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL"))
    )
    created_at: datetime = timestamp_field()
