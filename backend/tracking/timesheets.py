"""Weekly timesheets: a person's week in their time zone, submitted, then approved, rejected or
reopened by an approver (a lead of every project in the week, or an org admin, never its owner)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from backend.core import audit, hooks
from backend.core.errors import Conflict, Forbidden, NotFound
from backend.core.models import utcnow
from backend.core.pagination import Page, PageParams, paginate
from backend.tenancy import guard
from backend.tenancy.context import OrgContext, enter_project
from backend.tenancy.models import User
from backend.tracking import schemas
from backend.tracking.access import projects_where, require_sees_person
from backend.tracking.locks import FROZEN_STATUSES
from backend.tracking.models import (
    TimeEntry,
    Timesheet,
)
from backend.tracking.reads import entry_reads
from backend.tracking.zones import in_zone, iso_week, parse_week, week_bounds, zone_of


async def week_entries(ctx: OrgContext, user_id: uuid.UUID, week_start: date, zone: str) -> list[TimeEntry]:
    start, end = week_bounds(week_start, zone)
    rows = await ctx.session.scalars(
        select(TimeEntry)
        .where(
            col(TimeEntry.org_id) == ctx.org_id,
            col(TimeEntry.user_id) == user_id,
            col(TimeEntry.start_at) >= start,
            col(TimeEntry.start_at) < end,
        )
        .order_by(col(TimeEntry.start_at), col(TimeEntry.id))
    )
    return list(rows.all())


@dataclass(frozen=True, slots=True)
class TrackedDays:
    """A person's tracked time per local day, counted as their timesheet counts it."""

    time_zone: str
    seconds: dict[date, int]
    #: The projects the entries are on (who leads one of them may read the person's week).
    project_ids: frozenset[uuid.UUID]
    #: A timer was running in the range; it counts nothing until it stops.
    running: bool


async def tracked_days(ctx: OrgContext, user_id: uuid.UUID, first: date, last: date) -> TrackedDays:
    """Tracked seconds per day from ``first`` to ``last`` (inclusive) in the person's time zone: an entry
    counts on the local day it starts (as the timesheet puts it in the week it starts), with its
    corrections and without rounding; a running timer counts nothing. No guard: the caller decided who
    may read this person's time."""
    zone = await zone_of(ctx, user_id)
    start, _ = week_bounds(first, zone)
    _, end = week_bounds(last - timedelta(days=6), zone)
    rows = await ctx.session.scalars(
        select(TimeEntry)
        .where(
            col(TimeEntry.org_id) == ctx.org_id,
            col(TimeEntry.user_id) == user_id,
            col(TimeEntry.start_at) >= start,
            col(TimeEntry.start_at) < end,
        )
        .order_by(col(TimeEntry.start_at), col(TimeEntry.id))
    )
    entries = list(rows.all())
    seconds: dict[date, int] = {}
    for entry in await entry_reads(ctx, entries):
        day = in_zone(entry.start_at, zone).date()
        seconds[day] = seconds.get(day, 0) + (entry.corrected_duration_seconds or 0)
    return TrackedDays(
        time_zone=zone,
        seconds=seconds,
        project_ids=frozenset(e.project_id for e in entries),
        running=any(e.end_at is None for e in entries),
    )


#: What the timesheet shows of working time (expected minutes, overtime, balance, absences, holidays).
#: The working-time domain sits above tracking (it reads tracked time through this module's service), so
#: it plugs its summary in here at start-up (app.py) rather than tracking importing it.
WeekWorktimeProvider = Callable[[OrgContext, uuid.UUID, date], Awaitable[schemas.WeekWorktime | None]]
_week_worktime: list[WeekWorktimeProvider] = []


def provide_week_worktime(provider: WeekWorktimeProvider) -> None:
    _week_worktime[:] = [provider]


async def _sheet_read(
    ctx: OrgContext, user_id: uuid.UUID, week_start: date, sheet: Timesheet | None
) -> schemas.TimesheetRead:
    zone = sheet.time_zone if sheet else await zone_of(ctx, user_id)
    entries = await entry_reads(ctx, await week_entries(ctx, user_id, week_start, zone))
    total = sum(e.corrected_duration_seconds or 0 for e in entries)
    billable = sum(e.corrected_duration_seconds or 0 for e in entries if e.billable)
    return schemas.TimesheetRead(
        id=sheet.id if sheet else None,
        user_id=user_id,
        week=iso_week(week_start),
        week_start=week_start,
        time_zone=zone,
        status=sheet.status if sheet else "open",
        total_seconds=total,
        billable_seconds=billable,
        entries=entries,
        submitted_at=sheet.submitted_at if sheet else None,
        decided_by=sheet.decided_by if sheet else None,
        decided_at=sheet.decided_at if sheet else None,
        reason=sheet.reason if sheet else None,
        worktime=await _week_worktime[0](ctx, user_id, week_start) if _week_worktime else None,
    )


async def _sheet(
    ctx: OrgContext, user_id: uuid.UUID, week_start: date, *, for_update: bool = False
) -> Timesheet | None:
    query = select(Timesheet).where(
        col(Timesheet.org_id) == ctx.org_id, col(Timesheet.user_id) == user_id, col(Timesheet.week_start) == week_start
    )
    if for_update:
        query = query.with_for_update()
    return (await ctx.session.scalars(query)).first()


async def get_timesheet(ctx: OrgContext, week: str, user_id: uuid.UUID | None) -> schemas.TimesheetRead:
    guard.require(ctx, "timesheet:read")
    person = user_id or ctx.user_id
    week_start = parse_week(week)
    sheet = await _sheet(ctx, person, week_start)
    zone = sheet.time_zone if sheet else await zone_of(ctx, person)
    await require_sees_person(ctx, person, await week_entries(ctx, person, week_start, zone))
    return await _sheet_read(ctx, person, week_start, sheet)


async def list_timesheets(
    ctx: OrgContext, page: PageParams, status: str | None, user_id: uuid.UUID | None
) -> Page[schemas.TimesheetSummary]:
    """Submitted (and decided) timesheets the caller may see: an approver's queue with ``status=submitted``."""
    guard.require(ctx, "timesheet:read")
    query = select(Timesheet).where(col(Timesheet.org_id) == ctx.org_id)
    if not guard.allowed(ctx, "team_time:read"):
        led = await projects_where(ctx, "team_time:read")
        people = select(col(TimeEntry.user_id)).where(
            col(TimeEntry.org_id) == ctx.org_id, col(TimeEntry.project_id).in_(led)
        )
        query = query.where(or_(col(Timesheet.user_id) == ctx.user_id, col(Timesheet.user_id).in_(people)))
    if status is not None:
        query = query.where(col(Timesheet.status) == status)
    if user_id is not None:
        query = query.where(col(Timesheet.user_id) == user_id)

    def item(sheet: Timesheet) -> schemas.TimesheetSummary:
        return schemas.TimesheetSummary(
            id=sheet.id,
            user_id=sheet.user_id,
            week=iso_week(sheet.week_start),
            status=sheet.status,
            submitted_at=sheet.submitted_at,
        )

    return await paginate(
        ctx.session, query, page, item, order_by=[col(Timesheet.week_start).desc(), col(Timesheet.id)], scalars=True
    )


def _sheet_state(sheet: Timesheet) -> dict[str, Any]:
    return {"status": sheet.status, "reason": sheet.reason, "week": iso_week(sheet.week_start)}


def _announce(event_type: str, sheet: Timesheet) -> None:
    """The sheet's new status to the webhooks; the rejection's reason is free text and stays out."""
    hooks.emit(
        sheet.org_id,
        event_type,
        timesheet_id=sheet.id,
        user_id=sheet.user_id,
        week=iso_week(sheet.week_start),
        week_start=sheet.week_start.isoformat(),
        time_zone=sheet.time_zone,
        decided_by=sheet.decided_by,
    )


async def submit_timesheet(ctx: OrgContext, data: schemas.TimesheetSubmit) -> schemas.TimesheetRead:
    guard.require(ctx, "timesheet:submit")
    week_start = parse_week(data.week)
    sheet = await _sheet(ctx, ctx.user_id, week_start, for_update=True)
    before = _sheet_state(sheet) if sheet else None
    if sheet is not None and sheet.status in FROZEN_STATUSES:
        raise Conflict(f"This timesheet is already {sheet.status}.", extra={"field": "week"})
    zone = await zone_of(ctx, ctx.user_id)
    if any(e.end_at is None for e in await week_entries(ctx, ctx.user_id, week_start, zone)):
        raise Conflict("Stop the running timer before submitting its week.", extra={"field": "week"})
    now = utcnow()
    if sheet is None:
        sheet = Timesheet(
            org_id=ctx.org_id, user_id=ctx.user_id, week_start=week_start, time_zone=zone, status="submitted"
        )
        ctx.session.add(sheet)
    sheet.status, sheet.submitted_at, sheet.reason, sheet.updated_at = "submitted", now, None, now
    sheet.decided_by = sheet.decided_at = None
    try:
        async with ctx.session.begin_nested():
            await ctx.session.flush()
    except IntegrityError:
        raise Conflict("This timesheet was submitted concurrently.", extra={"field": "week"}) from None
    await audit.record_in(
        ctx,
        action="timesheet.submitted",
        resource_type="timesheet",
        resource_id=sheet.id,
        before=before,
        after=_sheet_state(sheet),
    )
    _announce("timesheet.submitted", sheet)
    return await _sheet_read(ctx, ctx.user_id, week_start, sheet)


async def _decide(ctx: OrgContext, sheet_id: uuid.UUID, *, allowed_from: tuple[str, ...]) -> Timesheet:
    """Approvers: the leads of every project with time in the week, or an org admin; never its owner."""
    guard.require(ctx, "timesheet:read")
    sheet = await ctx.session.get(Timesheet, (ctx.org_id, sheet_id), with_for_update=True)
    if sheet is None:
        raise NotFound("No such timesheet.")
    if not guard.allowed(ctx, "timesheet:approve"):
        projects = {e.project_id for e in await week_entries(ctx, sheet.user_id, sheet.week_start, sheet.time_zone)}
        if not projects:
            guard.require(ctx, "timesheet:approve")
        for project_id in sorted(projects):
            guard.require(await enter_project(ctx, project_id), "timesheet:approve")
    if sheet.user_id == ctx.user_id:
        raise Forbidden("Nobody approves, rejects or reopens their own timesheet.")
    if sheet.status not in allowed_from:
        raise Conflict(f"This timesheet is {sheet.status}.")
    return sheet


@dataclass(frozen=True, slots=True)
class PendingSheet:
    id: uuid.UUID
    user_id: uuid.UUID
    name: str | None
    week: str
    submitted_at: datetime | None


async def awaiting_approval(ctx: OrgContext) -> list[PendingSheet]:
    """Submitted timesheets the caller may approve (the dashboard's queue): org-wide approvers see every
    one but their own; a lead sees those whose every entry is on projects they lead."""
    guard.require(ctx, "timesheet:read")
    org_wide = guard.allowed(ctx, "timesheet:approve")
    led = set() if org_wide else set(await projects_where(ctx, "timesheet:approve"))
    if not org_wide and not led:
        return []
    rows = await ctx.session.execute(
        select(Timesheet, User)
        .join(User, col(User.id) == col(Timesheet.user_id))
        .where(
            col(Timesheet.org_id) == ctx.org_id,
            col(Timesheet.status) == "submitted",
            col(Timesheet.user_id) != ctx.user_id,
        )
        .order_by(col(Timesheet.submitted_at), col(Timesheet.id))
        .limit(200)
    )
    found = []
    for sheet, user in rows.all():
        if not org_wide:
            projects = {e.project_id for e in await week_entries(ctx, sheet.user_id, sheet.week_start, sheet.time_zone)}
            if not projects or not projects <= led:
                continue
        found.append(
            PendingSheet(
                id=sheet.id,
                user_id=sheet.user_id,
                name=user.display_name or user.username or user.email,
                week=iso_week(sheet.week_start),
                submitted_at=sheet.submitted_at,
            )
        )
    return found


async def _transition(
    ctx: OrgContext,
    sheet_id: uuid.UUID,
    to: str,
    allowed_from: tuple[str, ...],
    reason: str | None = None,
    *,
    event_type: str | None = None,
) -> schemas.TimesheetRead:
    """Move the sheet to ``to``, audited, and announced as ``event_type`` when that is a webhook event."""
    sheet = await _decide(ctx, sheet_id, allowed_from=allowed_from)
    before = _sheet_state(sheet)
    now = utcnow()
    sheet.status, sheet.reason, sheet.decided_by, sheet.decided_at, sheet.updated_at = to, reason, ctx.user_id, now, now
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action=f"timesheet.{to}",
        resource_type="timesheet",
        resource_id=sheet.id,
        before=before,
        after=_sheet_state(sheet),
    )
    if event_type is not None:
        _announce(event_type, sheet)
    return await _sheet_read(ctx, sheet.user_id, sheet.week_start, sheet)


async def approve_timesheet(ctx: OrgContext, sheet_id: uuid.UUID) -> schemas.TimesheetRead:
    return await _transition(ctx, sheet_id, "approved", ("submitted",), event_type="timesheet.approved")


async def reject_timesheet(
    ctx: OrgContext, sheet_id: uuid.UUID, data: schemas.TimesheetReject
) -> schemas.TimesheetRead:
    return await _transition(ctx, sheet_id, "rejected", ("submitted",), data.reason, event_type="timesheet.rejected")


async def reopen_timesheet(ctx: OrgContext, sheet_id: uuid.UUID) -> schemas.TimesheetRead:
    return await _transition(ctx, sheet_id, "reopened", ("submitted", "approved"))


# --- imports ---------------------------------------------------------------------------------------
