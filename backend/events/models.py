"""Calendar events: one-off or recurring (an RFC 5545 RRULE), attendees with RSVP, cancelled occurrences."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    text,
)
from sqlalchemy import UniqueConstraint as Unique
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field, SQLModel

from backend.core.models import tenant_fk, timestamp_field, uuid_pk
from backend.tenancy.roles import sql_check


class Rsvp(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    TENTATIVE = "tentative"
    DECLINED = "declined"


class EventStatus(enum.StrEnum):
    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"
    CANCELLED = "cancelled"  # stays in the calendar, shown as cancelled


class Privacy(enum.StrEnum):
    PUBLIC = "public"  # every member reads it
    PRIVATE = "private"  # its creator and attendees read it; the others see busy time (migration 0039)


class Event(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (
        tenant_fk("org_id"),
        Unique("org_id", "id"),
        # The attendees repeat the privacy (their policy must not read this table); this key pins it.
        Unique("org_id", "id", "privacy"),
        ForeignKeyConstraint(["org_id", "project_id"], ["projects.org_id", "projects.id"], ondelete="CASCADE"),
        CheckConstraint("ends_at >= starts_at", name="ends_after_start"),
        CheckConstraint(sql_check("status", EventStatus), name="status"),
        CheckConstraint(sql_check("privacy", Privacy), name="privacy"),
        Index("ix_events_org_starts", "org_id", "starts_at"),
        Index("ix_events_org_status", "org_id", "status"),
        Index("ix_events_org_reminder_at", "org_id", "reminder_at", postgresql_where=text("reminder_at IS NOT NULL")),
    )

    id: uuid.UUID = uuid_pk()
    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    title: str = Field(sa_column=Column(String(300), nullable=False))
    description: str | None = Field(default=None, sa_column=Column(Text))
    location: str | None = Field(default=None, sa_column=Column(String(300)))
    starts_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    ends_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    all_day: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=text("false")))
    rrule: str | None = Field(default=None, sa_column=Column(String(500)))
    # The IANA zone the rule repeats in (its wall-clock time stays put across daylight-saving changes).
    timezone: str = Field(default="UTC", sa_column=Column(String(64), nullable=False, server_default="UTC"))
    project_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    status: str = Field(
        default=EventStatus.CONFIRMED.value,
        sa_column=Column(String(16), nullable=False, server_default=EventStatus.CONFIRMED.value),
    )
    privacy: str = Field(
        default=Privacy.PUBLIC.value, sa_column=Column(String(16), nullable=False, server_default=Privacy.PUBLIC.value)
    )
    # One reminder to the attendees, before the (first) start; delivered once per value.
    reminder_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_by: uuid.UUID | None = Field(
        default=None, sa_column=Column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL"))
    )
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class EventAttendee(SQLModel, table=True):
    __tablename__ = "event_attendees"
    __table_args__ = (
        ForeignKeyConstraint(["org_id", "event_id"], ["events.org_id", "events.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(
            ["org_id", "event_id", "event_privacy"],
            ["events.org_id", "events.id", "events.privacy"],
            ondelete="CASCADE",
            onupdate="CASCADE",
            name="fk_event_attendees_event_privacy",
        ),
        ForeignKeyConstraint(["org_id", "user_id"], ["memberships.org_id", "memberships.user_id"], ondelete="CASCADE"),
        CheckConstraint(sql_check("rsvp", Rsvp), name="rsvp"),
        Index("ix_event_attendees_org_user", "org_id", "user_id"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    event_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    user_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    rsvp: str = Field(default=Rsvp.PENDING.value, sa_column=Column(String(16), nullable=False))
    # The event's privacy, repeated (and kept equal by the foreign key) for this table's policy.
    event_privacy: str = Field(
        default=Privacy.PUBLIC.value, sa_column=Column(String(16), nullable=False, server_default=Privacy.PUBLIC.value)
    )
    updated_at: datetime = timestamp_field()


class EventCancellation(SQLModel, table=True):
    """One occurrence of a recurring event that will not take place (an EXDATE)."""

    __tablename__ = "event_cancellations"
    __table_args__ = (ForeignKeyConstraint(["org_id", "event_id"], ["events.org_id", "events.id"], ondelete="CASCADE"),)

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    event_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    occurrence_start: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    created_at: datetime = timestamp_field()
