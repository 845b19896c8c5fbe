"""Shared model plumbing: one metadata (with the constraint naming convention) and column helpers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, ForeignKeyConstraint
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field, SQLModel

# Explicit constraint names keep Alembic diffs and error messages stable.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION


def utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp_field(*, nullable: bool = False, default_now: bool = True) -> datetime:
    return Field(  # type: ignore[no-any-return]
        default_factory=utcnow if default_now else None,
        sa_column=Column(DateTime(timezone=True), nullable=nullable),
    )


def uuid_pk() -> uuid.UUID:
    return Field(  # type: ignore[no-any-return]
        default_factory=uuid.uuid4, sa_column=Column(UUID(as_uuid=True), primary_key=True)
    )


def tenant_fk(*columns: str, ondelete: str = "CASCADE") -> ForeignKeyConstraint:
    """Reference the organization; tenant rows always carry ``org_id``."""
    return ForeignKeyConstraint(list(columns), ["organizations.id"], ondelete=ondelete)
