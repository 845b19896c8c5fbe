"""Notes, private to their author unless shared with a member or with a project's members.

Who sees a note is decided by row-level security (see migration 0005), not by a Python filter.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Column, Computed, ForeignKeyConstraint, Index, String, Text, text
from sqlalchemy import UniqueConstraint as Unique
from sqlalchemy.dialects.postgresql import TSVECTOR, UUID
from sqlmodel import Field, SQLModel

from backend.core.models import tenant_fk, timestamp_field, uuid_pk
from backend.tenancy.roles import sql_check

SEARCH_EXPRESSION = "to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(body, ''))"


class SharePermission(enum.StrEnum):
    VIEW = "view"
    EDIT = "edit"


class Note(SQLModel, table=True):
    __tablename__ = "notes"
    __table_args__ = (
        tenant_fk("org_id"),
        Unique("org_id", "id"),
        Unique("org_id", "id", "author_id"),
        # A note is its author's: it leaves the organization with them.
        ForeignKeyConstraint(
            ["org_id", "author_id"], ["memberships.org_id", "memberships.user_id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(["org_id", "project_id"], ["projects.org_id", "projects.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["org_id", "client_id"], ["clients.org_id", "clients.id"], ondelete="RESTRICT"),
        Index("ix_notes_org_author", "org_id", "author_id"),
        Index("ix_notes_search", "search", postgresql_using="gin"),
    )

    id: uuid.UUID = uuid_pk()
    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    author_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    title: str = Field(sa_column=Column(String(300), nullable=False))
    body: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    project_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    client_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    pinned: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=text("false")))
    search: str | None = Field(
        default=None, sa_column=Column(TSVECTOR, Computed(SEARCH_EXPRESSION, persisted=True)), exclude=True
    )
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class NoteShare(SQLModel, table=True):
    """A note shared with one member, or with everyone holding a role in one project."""

    __tablename__ = "note_shares"
    __table_args__ = (
        tenant_fk("org_id"),
        # Includes the author, so a share cannot lie about whose note it is (its policy trusts the column).
        ForeignKeyConstraint(
            ["org_id", "note_id", "note_author_id"], ["notes.org_id", "notes.id", "notes.author_id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(["org_id", "user_id"], ["memberships.org_id", "memberships.user_id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["org_id", "project_id"], ["projects.org_id", "projects.id"], ondelete="CASCADE"),
        Unique("note_id", "user_id"),
        Unique("note_id", "project_id"),
        CheckConstraint("(user_id IS NULL) <> (project_id IS NULL)", name="one_target"),
        CheckConstraint(sql_check("permission", SharePermission), name="permission"),
        Index("ix_note_shares_org_user", "org_id", "user_id"),
        Index("ix_note_shares_org_project", "org_id", "project_id"),
    )

    id: uuid.UUID = uuid_pk()
    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    note_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    # The note's author, repeated (and pinned by the foreign key) so the share table's policy never reads
    # notes, whose own policy reads this table: Postgres refuses policies that recurse.
    note_author_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    user_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    project_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    permission: str = Field(sa_column=Column(String(8), nullable=False))
    created_at: datetime = timestamp_field()
