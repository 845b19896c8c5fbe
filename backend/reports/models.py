"""Report settings: each member's weekly capacity (productivity's expected hours; absent means 40)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Column, ForeignKeyConstraint, Numeric, PrimaryKeyConstraint
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field, SQLModel

from backend.core.models import timestamp_field


class MemberCapacity(SQLModel, table=True):
    __tablename__ = "member_capacities"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "user_id"], ["memberships.org_id", "memberships.user_id"], ondelete="CASCADE"),
        PrimaryKeyConstraint("org_id", "user_id"),
        CheckConstraint("weekly_hours >= 0 AND weekly_hours <= 168", name="weekly_hours"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    user_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    weekly_hours: Decimal = Field(sa_column=Column(Numeric(5, 2), nullable=False))
    updated_at: datetime = timestamp_field()
