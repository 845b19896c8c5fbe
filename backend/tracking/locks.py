"""The period lock and what it freezes: time before ``locked_until`` and weeks whose timesheet is
submitted or approved are read-only, and fixed with append-only corrections."""

from __future__ import annotations

import uuid
from datetime import UTC, date

from sqlalchemy import select
from sqlmodel import col

from backend.core import audit, hooks
from backend.core.errors import Conflict, UnprocessableContent
from backend.core.models import utcnow
from backend.orgs import service as orgs
from backend.tenancy import guard
from backend.tenancy.context import OrgContext, enter_project
from backend.tracking import schemas
from backend.tracking.access import load_entry, require_readable
from backend.tracking.models import (
    TimeEntry,
    TimeEntryCorrection,
    TimeSettings,
    Timesheet,
)
from backend.tracking.reads import announce, correction_sums
from backend.tracking.time_settings import load_settings, settings_row
from backend.tracking.zones import iso_week, week_of, zone_of

FROZEN_STATUSES = ("submitted", "approved")


async def require_editable(ctx: OrgContext, settings: TimeSettings, entry: TimeEntry, *, field: str) -> None:
    """Neither in the locked period nor in a submitted or approved week."""
    if settings.locked_until is not None and entry.start_at < settings.locked_until:
        raise Conflict(
            f"Time before {settings.locked_until.isoformat()} is locked; add a correction entry instead.",
            extra={"field": field, "locked_until": settings.locked_until},
        )
    zone = await zone_of(ctx, entry.user_id)
    week = week_of(entry.start_at, zone)
    sheet = await ctx.session.scalar(
        select(Timesheet).where(
            col(Timesheet.org_id) == ctx.org_id,
            col(Timesheet.user_id) == entry.user_id,
            col(Timesheet.week_start) == week,
        )
    )
    if sheet is not None and sheet.status in FROZEN_STATUSES:
        raise Conflict(
            f"The timesheet for {iso_week(week)} is {sheet.status}; it is read-only until it is reopened.",
            extra={"field": field, "timesheet_id": sheet.id},
        )


async def add_correction(
    ctx: OrgContext, entry_id: uuid.UUID, data: schemas.CorrectionCreate
) -> schemas.CorrectionRead:
    """Fix an entry that can no longer be edited (locked period, approved week) without rewriting it."""
    guard.require(ctx, "time_entry:read")
    entry = await load_entry(ctx, entry_id)
    pctx = await enter_project(ctx, entry.project_id)
    guard.require(pctx, "time_correction:create")
    if entry.duration_seconds is None:
        raise Conflict("A running entry cannot be corrected; stop it first.")
    total = (await correction_sums(ctx, [entry.id])).get(entry.id, 0)
    if entry.duration_seconds + total + data.duration_delta_seconds < 0:
        raise UnprocessableContent(
            "The correction would make the duration negative.", extra={"field": "duration_delta_seconds"}
        )
    correction = TimeEntryCorrection(
        org_id=ctx.org_id,
        entry_id=entry.id,
        duration_delta_seconds=data.duration_delta_seconds,
        reason=data.reason,
        created_by=ctx.user_id,
    )
    ctx.session.add(correction)
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="time_entry.corrected",
        resource_type="time_entry",
        resource_id=entry.id,
        after={
            "correction_id": correction.id,
            "duration_delta_seconds": data.duration_delta_seconds,
            "reason": data.reason,
        },
    )
    # Its effective duration changed; the reason is free text and stays out.
    announce(
        "time_entry.updated",
        entry,
        correction_id=correction.id,
        duration_delta_seconds=data.duration_delta_seconds,
    )
    return _correction_read(correction)


def _correction_read(correction: TimeEntryCorrection) -> schemas.CorrectionRead:
    return schemas.CorrectionRead(
        id=correction.id,
        entry_id=correction.entry_id,
        duration_delta_seconds=correction.duration_delta_seconds,
        reason=correction.reason,
        created_by=correction.created_by,
        created_at=correction.created_at,
    )


async def list_corrections(ctx: OrgContext, entry_id: uuid.UUID) -> list[schemas.CorrectionRead]:
    guard.require(ctx, "time_entry:read")
    entry = await load_entry(ctx, entry_id)
    await require_readable(ctx, entry)
    rows = await ctx.session.scalars(
        select(TimeEntryCorrection)
        .where(col(TimeEntryCorrection.org_id) == ctx.org_id, col(TimeEntryCorrection.entry_id) == entry.id)
        .order_by(col(TimeEntryCorrection.created_at), col(TimeEntryCorrection.id))
    )
    return [_correction_read(c) for c in rows.all()]


async def get_lock(ctx: OrgContext) -> schemas.TimeLock:
    guard.require(ctx, "time_lock:read")
    return schemas.TimeLock(locked_until=(await load_settings(ctx)).locked_until)


async def set_lock(ctx: OrgContext, data: schemas.TimeLock) -> schemas.TimeLock:
    """Move the lock forward (admins), or back (the owner only): both audited."""
    current = (await load_settings(ctx, for_update=True)).locked_until
    wanted = data.locked_until.astimezone(UTC) if data.locked_until else None
    backwards = current is not None and (wanted is None or wanted < current)
    guard.require(ctx, "time_lock:rewind" if backwards else "time_lock:update")
    settings = await settings_row(ctx)
    if settings.locked_until != current:
        raise Conflict("The period lock was moved concurrently; read it again and retry.")
    if wanted != current:
        settings.locked_until, settings.updated_at = wanted, utcnow()
        await ctx.session.flush()
        await audit.record_in(
            ctx,
            action="time_lock.moved_back" if backwards else "time_lock.set",
            resource_type="time_lock",
            resource_id=ctx.org_id,
            before={"locked_until": current},
            after={"locked_until": wanted},
        )
        # The lock's own event included: a later truncation of the trail below this head is detectable.
        await orgs.anchor_audit_head(ctx.session, ctx.org_id, reason="period_lock")
        if wanted is not None and not backwards:
            hooks.emit(
                ctx.org_id,
                "period.locked",
                locked_until=wanted.isoformat(),
                previous_locked_until=current.isoformat() if current is not None else None,
                locked_by=ctx.user_id,
            )
    return schemas.TimeLock(locked_until=wanted)


async def frozen_weeks(ctx: OrgContext, user_ids: set[uuid.UUID]) -> set[tuple[uuid.UUID, date]]:
    if not user_ids:
        return set()
    rows = await ctx.session.execute(
        select(col(Timesheet.user_id), col(Timesheet.week_start)).where(
            col(Timesheet.org_id) == ctx.org_id,
            col(Timesheet.user_id).in_(user_ids),
            col(Timesheet.status).in_(FROZEN_STATUSES),
        )
    )
    return {(row[0], row[1]) for row in rows.all()}
