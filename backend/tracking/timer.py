"""The running timer: one running entry per person and organization, enforced by a partial unique
index, so concurrent starts leave exactly one."""

from __future__ import annotations

from datetime import datetime

from backend.core import audit
from backend.core.errors import Conflict, NotFound
from backend.core.models import utcnow
from backend.tenancy import guard
from backend.tenancy.context import OrgContext
from backend.tracking import schemas
from backend.tracking.access import authorize_entry, billable_default, require_task_on
from backend.tracking.entries import (
    clean_tags,
    lock_people,
    remember_tags,
    running_entry,
    validate_times,
    write_entry,
)
from backend.tracking.locks import require_editable
from backend.tracking.models import TimeEntry
from backend.tracking.rates import snapshot_rate
from backend.tracking.reads import announce, entry_read_one, entry_state
from backend.tracking.time_settings import load_settings


async def current_timer(ctx: OrgContext) -> schemas.TimerRead:
    guard.require(ctx, "time_entry:read")
    running = await running_entry(ctx, ctx.user_id)
    return schemas.TimerRead(running=await entry_read_one(ctx, running) if running else None)


async def _stop(ctx: OrgContext, entry: TimeEntry, at: datetime) -> None:
    """Stop ``entry``; the caller holds its person's lock (``lock_people``)."""
    await authorize_entry(ctx, entry.project_id, entry.user_id, "update")
    settings = await load_settings(ctx)
    before = entry_state(entry)

    async def apply() -> None:
        entry.end_at, entry.updated_at = at, utcnow()
        validate_times(settings, entry)

    await write_entry(ctx, entry, apply, new=False, person_locked=True)
    await audit.record_in(
        ctx,
        action="time_entry.timer_stopped",
        resource_type="time_entry",
        resource_id=entry.id,
        before=before,
        after=entry_state(entry),
    )
    announce("timer.stopped", entry)


async def start_timer(ctx: OrgContext, data: schemas.TimerStart) -> schemas.TimeEntryRead:
    """Start a running entry now. Concurrent starts leave exactly one: the partial unique index refuses
    the second, which then answers 409 with the running entry."""
    pctx = await authorize_entry(ctx, data.project_id, ctx.user_id, "create")
    settings = await load_settings(ctx)
    now = utcnow()
    await lock_people(ctx, [ctx.user_id])
    running = await running_entry(ctx, ctx.user_id, for_update=True)
    if running is not None:
        if not data.stop_running:
            raise Conflict(
                "A timer is already running; stop it first or start with stop_running=true.",
                extra={"running_entry": (await entry_read_one(ctx, running)).model_dump(mode="json")},
            )
        await _stop(ctx, running, now)
    entry = TimeEntry(
        org_id=ctx.org_id,
        user_id=ctx.user_id,
        project_id=pctx.project.id,
        task_id=data.task_id,
        description=data.description,
        start_at=now,
        end_at=None,
        billable=await billable_default(pctx) if data.billable is None else data.billable,
        tags=clean_tags(data.tags),
        no_overlap=settings.prevent_overlaps,
        source="timer",
        created_by=ctx.user_id,
    )
    validate_times(settings, entry)
    await require_editable(ctx, settings, entry, field="start_at")
    await require_task_on(pctx, entry.task_id)
    await snapshot_rate(ctx, settings, entry)
    await write_entry(ctx, entry, new=True, person_locked=True)
    await remember_tags(ctx, entry.tags)
    await audit.record_in(
        ctx,
        action="time_entry.timer_started",
        resource_type="time_entry",
        resource_id=entry.id,
        after=entry_state(entry),
    )
    announce("timer.started", entry)
    return await entry_read_one(ctx, entry)


async def stop_timer(ctx: OrgContext) -> schemas.TimeEntryRead:
    guard.require(ctx, "time_entry:read")
    await lock_people(ctx, [ctx.user_id])
    running = await running_entry(ctx, ctx.user_id, for_update=True)
    if running is None:
        raise NotFound("No timer is running.")
    await _stop(ctx, running, utcnow())
    return await entry_read_one(ctx, running)


# --- corrections -----------------------------------------------------------------------------------
