"""Webhook endpoints (per organization) and the log of deliveries made to them."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlmodel import Field, SQLModel

from backend.core.models import tenant_fk, timestamp_field
from backend.tenancy.roles import sql_check


class EndpointFormat(enum.StrEnum):
    STANDARD = "standard"  # the event envelope as JSON, signed per Standard Webhooks
    SLACK = "slack"  # a Slack-compatible incoming-webhook message ({"text": ...}), signed too


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # retries exhausted, refused destination, or the endpoint was disabled


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        tenant_fk("org_id"),
        CheckConstraint(sql_check("format", EndpointFormat), name="format"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(UUID(as_uuid=True), primary_key=True))
    url: str = Field(sa_column=Column(String(2000), nullable=False))
    format: str = Field(default=EndpointFormat.STANDARD.value, sa_column=Column(String(16), nullable=False))
    description: str = Field(default="", sa_column=Column(String(300), nullable=False, server_default=""))
    events: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(String(64)), nullable=False))
    active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    # The signing secret (whsec_…), Fernet-sealed (backend/core/secrets.py); shown once, at creation.
    secret_sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    consecutive_failures: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    disabled_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    disabled_reason: str | None = Field(default=None, sa_column=Column(String(300)))
    created_by: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        tenant_fk("org_id"),
        ForeignKeyConstraint(
            ["org_id", "endpoint_id"], ["webhook_endpoints.org_id", "webhook_endpoints.id"], ondelete="CASCADE"
        ),
        CheckConstraint(sql_check("status", DeliveryStatus), name="status"),
        Index("ix_webhook_deliveries_endpoint", "org_id", "endpoint_id", "created_at"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(UUID(as_uuid=True), primary_key=True))
    endpoint_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    event_id: str = Field(sa_column=Column(String(64), nullable=False))
    event_type: str = Field(sa_column=Column(String(64), nullable=False))
    payload: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    status: str = Field(default=DeliveryStatus.PENDING.value, sa_column=Column(String(16), nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    response_code: int | None = Field(default=None, sa_column=Column(Integer))
    duration_ms: int | None = Field(default=None, sa_column=Column(Integer))
    error: str | None = Field(default=None, sa_column=Column(Text))
    redelivery_of: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    created_at: datetime = timestamp_field()
    last_attempt_at: datetime | None = timestamp_field(nullable=True, default_now=False)
