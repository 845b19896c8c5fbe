from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field, SQLModel

from backend.core.models import tenant_fk, timestamp_field, uuid_pk


class Ping(SQLModel, table=True):
    """A round trip through the job queue: the API writes it, a worker marks it processed."""

    __tablename__ = "diagnostic_pings"
    __table_args__ = (tenant_fk("org_id"), Index("ix_diagnostic_pings_org_id", "org_id", "requested_at"))

    id: uuid.UUID = uuid_pk()
    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    requested_by: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    requested_at: datetime = timestamp_field()
    processed_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    worker_pid: int | None = Field(default=None, sa_column=Column(Integer))
