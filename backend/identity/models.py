from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, String, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field, SQLModel

from backend.core.models import timestamp_field


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
