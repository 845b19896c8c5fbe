"""Entries as the API returns them: in their person's time zone, with corrections summed, the amount
computed from the snapshotted rate, and the lock state; and the state an audit record keeps."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Row, func, select
from sqlmodel import col

from backend.core import hooks
from backend.tenancy.context import OrgContext
from backend.tracking import schemas
from backend.tracking.models import (
    TimeEntry,
    TimeEntryCorrection,
)
from backend.tracking.time_settings import load_settings
from backend.tracking.zones import in_zone, zones_of

# An entry as the ORM loads it, or a plain row of its columns (the lists read those).
EntryLike = TimeEntry | Row[Any, *tuple[Any, ...]]


def amount_of(entry: EntryLike, seconds: int | None) -> Decimal | None:
    if entry.rate is None or seconds is None or not entry.billable:
        return None
    return (entry.rate * Decimal(seconds) / Decimal(3600)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


_ALL_FIELDS = frozenset(schemas.TimeEntryRead.model_fields)
_set_attr = object.__setattr__


def _trusted(values: dict[str, Any]) -> schemas.TimeEntryRead:
    """A TimeEntryRead from values built here from our own rows, each already of its field's type and
    every field given: what ``model_construct`` makes, without its per-field bookkeeping (two thirds of
    a list's Python time; ``tests/tracking/test_entries.py`` checks the two agree)."""
    entry = schemas.TimeEntryRead.__new__(schemas.TimeEntryRead)
    _set_attr(entry, "__dict__", values)
    _set_attr(entry, "__pydantic_fields_set__", set(_ALL_FIELDS))
    _set_attr(entry, "__pydantic_extra__", None)
    _set_attr(entry, "__pydantic_private__", None)
    return entry


def entry_read(
    entry: EntryLike, zone: str, corrections: int = 0, locked_until: datetime | None = None
) -> schemas.TimeEntryRead:
    corrected = None if entry.duration_seconds is None else entry.duration_seconds + corrections
    end_at = entry.end_at
    # No validation: a list of 50 entries spent most of its Python time validating what the database had
    # just returned.
    return _trusted(
        {
            "id": entry.id,
            "user_id": entry.user_id,
            "project_id": entry.project_id,
            "task_id": entry.task_id,
            "description": entry.description,
            "start_at": entry.start_at.astimezone(UTC),
            "end_at": end_at.astimezone(UTC) if end_at else None,
            "time_zone": zone,
            "start_local": in_zone(entry.start_at, zone),
            "end_local": in_zone(end_at, zone) if end_at else None,
            "duration_seconds": entry.duration_seconds,
            "corrected_duration_seconds": corrected,
            "running": end_at is None,
            "billable": entry.billable,
            "tags": list(entry.tags),
            "rate": entry.rate,
            "currency": entry.currency,
            "amount": amount_of(entry, corrected),
            "source": entry.source,
            "locked": locked_until is not None and entry.start_at < locked_until,
            "created_at": entry.created_at,
            "updated_at": entry.updated_at,
        }
    )


async def correction_sums(ctx: OrgContext, entry_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not entry_ids:
        return {}
    rows = await ctx.session.execute(
        select(col(TimeEntryCorrection.entry_id), func.sum(col(TimeEntryCorrection.duration_delta_seconds)))
        .where(col(TimeEntryCorrection.org_id) == ctx.org_id, col(TimeEntryCorrection.entry_id).in_(entry_ids))
        .group_by(col(TimeEntryCorrection.entry_id))
    )
    return {row[0]: int(row[1]) for row in rows.all()}


async def entry_reads(ctx: OrgContext, entries: Sequence[TimeEntry]) -> list[schemas.TimeEntryRead]:
    zones = await zones_of(ctx, {entry.user_id for entry in entries})
    sums = await correction_sums(ctx, [entry.id for entry in entries])
    settings = await load_settings(ctx)
    return [entry_read(e, zones[e.user_id], sums.get(e.id, 0), settings.locked_until) for e in entries]


async def entry_read_one(ctx: OrgContext, entry: TimeEntry) -> schemas.TimeEntryRead:
    return (await entry_reads(ctx, [entry]))[0]


def entry_state(entry: TimeEntry) -> dict[str, Any]:
    return {
        "user_id": entry.user_id,
        "project_id": entry.project_id,
        "task_id": entry.task_id,
        "description": entry.description,
        "start_at": entry.start_at,
        "end_at": entry.end_at,
        "billable": entry.billable,
        "tags": list(entry.tags),
        "rate": str(entry.rate) if entry.rate is not None else None,
        "currency": entry.currency,
    }


def entry_event(entry: TimeEntry) -> dict[str, Any]:
    """What a webhook says about an entry: ids and scalars, never its description or rate."""
    end_at = entry.end_at
    return {
        "entry_id": entry.id,
        "user_id": entry.user_id,
        "project_id": entry.project_id,
        "task_id": entry.task_id,
        "start_at": entry.start_at.isoformat(),
        "end_at": end_at.isoformat() if end_at is not None else None,
        "duration_seconds": int((end_at - entry.start_at).total_seconds()) if end_at is not None else None,
        "billable": entry.billable,
        "source": entry.source,
    }


def announce(event_type: str, entry: TimeEntry, **extra: Any) -> None:
    """Emit ``event_type`` about ``entry`` to the organization's webhooks, in the current transaction."""
    hooks.emit(entry.org_id, event_type, **entry_event(entry), **extra)


# --- who may touch which entry ---------------------------------------------------------------------
