"""Working time: contracts (expected minutes per weekday from a date), holiday calendars, absences, and
the overtime balance (tracked - expected per local day; docs/time-tracking.md "Working time, absences
and overtime").

Expected minutes on a day: the weekday's minutes of the contract in force (the latest ``valid_from`` on
or before the day; none before the first contract, so 0), 0 on a holiday of that contract's calendar,
0 on an absence day and half on a half-day absence. Tracked minutes: what the timesheet counts for the
person on that local day (``tracking.service.tracked_days``); a running timer counts nothing until it is
stopped, so a balance never moves while the clock runs.

Who reads whose: everyone their own; org-wide readers (admins, the auditor) everyone's; a project lead
the people on the projects they lead (``team_worktime:read`` / ``absence:manage`` on that project).
Anyone else's is a 403, as for timesheets.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from backend.core import audit
from backend.core.errors import Conflict, Forbidden, NotFound, UnprocessableContent
from backend.core.models import utcnow
from backend.core.pagination import Page, PageParams, paginate
from backend.tenancy import guard
from backend.tenancy.context import OrgContext, enter_project
from backend.tenancy.models import Membership, ProjectMembership, User
from backend.tenancy.roles import MembershipStatus
from backend.tracking import service as tracking
from backend.worktime import schemas
from backend.worktime.models import Absence, Holiday, HolidayCalendar, WorkContract

#: What other domains show of working time (the dashboard).
TeamWeekRow = schemas.TeamWeekRow
AbsenceRead = schemas.AbsenceRead

#: The longest range one balance request reads per day (the cumulative balance has no such limit).
MAX_RANGE_DAYS = 366


# --- who may read or act for whom ----------------------------------------------------------------


async def _team(ctx: OrgContext, permission: str) -> set[uuid.UUID]:
    """The people on the projects whose project role grants the caller ``permission`` (leads)."""
    led = []
    for project_id in await tracking.led_projects(ctx):
        if guard.holds(await enter_project(ctx, project_id), permission):
            led.append(project_id)
    if not led:
        return set()
    rows = await ctx.session.scalars(
        select(col(ProjectMembership.user_id)).where(col(ProjectMembership.project_id).in_(led))
    )
    return set(rows.all())


async def _require_for(ctx: OrgContext, user_id: uuid.UUID, permission: str) -> None:
    """``permission`` on someone else's working time: granted here (admins; the auditor reads), or by the
    role on a project they are on (leads). Past the grant, the organization's state decides as for any
    permission (409 for a write while archived)."""
    if user_id == ctx.user_id:
        return
    if not guard.holds(ctx, permission) and user_id not in await _team(ctx, permission):
        raise Forbidden("You may see and record only your own working time and that of the people you lead.")
    guard.require_state(ctx, permission)


async def _require_member(ctx: OrgContext, user_id: uuid.UUID, *, field: str = "user_id") -> None:
    membership = await ctx.session.get(Membership, (ctx.org_id, user_id))
    if membership is None or membership.status != MembershipStatus.ACTIVE:
        raise UnprocessableContent("No such member in this organization.", extra={"field": field})


async def _names(ctx: OrgContext, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    if not user_ids:
        return {}
    rows = await ctx.session.scalars(select(User).where(col(User.id).in_(user_ids)))
    return {u.id: u.display_name or u.username or u.email for u in rows.all()}


# --- holiday calendars ---------------------------------------------------------------------------


def _calendar_read(calendar: HolidayCalendar) -> schemas.CalendarRead:
    return schemas.CalendarRead(id=calendar.id, name=calendar.name, created_at=calendar.created_at)


async def list_calendars(ctx: OrgContext) -> list[schemas.CalendarRead]:
    guard.require(ctx, "worktime:read")
    rows = await ctx.session.scalars(
        select(HolidayCalendar).where(col(HolidayCalendar.org_id) == ctx.org_id).order_by(col(HolidayCalendar.name))
    )
    return [_calendar_read(c) for c in rows.all()]


async def _flush_or_conflict(ctx: OrgContext, message: str, field: str) -> None:
    try:
        async with ctx.session.begin_nested():
            await ctx.session.flush()
    except IntegrityError:
        raise Conflict(message, extra={"field": field}) from None


async def create_calendar(ctx: OrgContext, data: schemas.CalendarCreate) -> schemas.CalendarRead:
    guard.require(ctx, "holiday_calendar:manage")
    calendar = HolidayCalendar(org_id=ctx.org_id, name=data.name)
    ctx.session.add(calendar)
    await _flush_or_conflict(ctx, f"A holiday calendar named '{data.name}' exists already.", "name")
    await audit.record_in(
        ctx, action="holiday_calendar.created", resource_type="holiday_calendar", resource_id=calendar.id,
        after={"name": calendar.name},
    )  # fmt: skip
    return _calendar_read(calendar)


async def _calendar(ctx: OrgContext, calendar_id: uuid.UUID) -> HolidayCalendar:
    calendar = await ctx.session.get(HolidayCalendar, (ctx.org_id, calendar_id))
    if calendar is None:
        raise NotFound("No such holiday calendar.")
    return calendar


async def delete_calendar(ctx: OrgContext, calendar_id: uuid.UUID) -> None:
    guard.require(ctx, "holiday_calendar:manage")
    calendar = await _calendar(ctx, calendar_id)
    await ctx.session.delete(calendar)
    await _flush_or_conflict(ctx, "Contracts use this holiday calendar: point them elsewhere first.", "calendar_id")
    await audit.record_in(
        ctx, action="holiday_calendar.deleted", resource_type="holiday_calendar", resource_id=calendar_id,
        before={"name": calendar.name},
    )  # fmt: skip


def _holiday_read(holiday: Holiday) -> schemas.HolidayRead:
    return schemas.HolidayRead(id=holiday.id, calendar_id=holiday.calendar_id, day=holiday.day, name=holiday.name)


async def list_holidays(ctx: OrgContext, calendar_id: uuid.UUID, year: int | None) -> list[schemas.HolidayRead]:
    guard.require(ctx, "worktime:read")
    await _calendar(ctx, calendar_id)
    query = select(Holiday).where(col(Holiday.org_id) == ctx.org_id, col(Holiday.calendar_id) == calendar_id)
    if year is not None:
        query = query.where(col(Holiday.day) >= date(year, 1, 1), col(Holiday.day) <= date(year, 12, 31))
    rows = await ctx.session.scalars(query.order_by(col(Holiday.day)))
    return [_holiday_read(h) for h in rows.all()]


async def add_holiday(ctx: OrgContext, calendar_id: uuid.UUID, data: schemas.HolidayCreate) -> schemas.HolidayRead:
    guard.require(ctx, "holiday_calendar:manage")
    await _calendar(ctx, calendar_id)
    holiday = Holiday(org_id=ctx.org_id, calendar_id=calendar_id, day=data.day, name=data.name)
    ctx.session.add(holiday)
    await _flush_or_conflict(ctx, f"This calendar has a holiday on {data.day} already.", "day")
    await audit.record_in(
        ctx, action="holiday.created", resource_type="holiday", resource_id=holiday.id,
        after={"calendar_id": calendar_id, "day": data.day, "name": data.name},
    )  # fmt: skip
    return _holiday_read(holiday)


async def delete_holiday(ctx: OrgContext, calendar_id: uuid.UUID, holiday_id: uuid.UUID) -> None:
    guard.require(ctx, "holiday_calendar:manage")
    holiday = await ctx.session.get(Holiday, (ctx.org_id, holiday_id))
    if holiday is None or holiday.calendar_id != calendar_id:
        raise NotFound("No such holiday.")
    await ctx.session.delete(holiday)
    await ctx.session.flush()
    await audit.record_in(
        ctx, action="holiday.deleted", resource_type="holiday", resource_id=holiday_id,
        before={"calendar_id": calendar_id, "day": holiday.day, "name": holiday.name},
    )  # fmt: skip


# --- contracts -----------------------------------------------------------------------------------


def _contract_read(contract: WorkContract) -> schemas.ContractRead:
    return schemas.ContractRead(
        id=contract.id,
        user_id=contract.user_id,
        valid_from=contract.valid_from,
        weekday_minutes=list(contract.weekday_minutes),
        weekly_minutes=sum(contract.weekday_minutes),
        calendar_id=contract.calendar_id,
        created_at=contract.created_at,
        updated_at=contract.updated_at,
    )


def _contract_state(contract: WorkContract) -> dict[str, Any]:
    return {
        "user_id": contract.user_id,
        "valid_from": contract.valid_from,
        "weekday_minutes": list(contract.weekday_minutes),
        "calendar_id": contract.calendar_id,
    }


async def list_contracts(ctx: OrgContext, page: PageParams, user_id: uuid.UUID | None) -> Page[schemas.ContractRead]:
    """Everyone's (org-wide readers), or one person's (their own; a lead's team)."""
    guard.require(ctx, "worktime:read")
    query = select(WorkContract).where(col(WorkContract.org_id) == ctx.org_id)
    if user_id is not None:
        await _require_for(ctx, user_id, "team_worktime:read")
        query = query.where(col(WorkContract.user_id) == user_id)
    elif not guard.allowed(ctx, "team_worktime:read"):
        query = query.where(col(WorkContract.user_id) == ctx.user_id)
    return await paginate(
        ctx.session, query, page, _contract_read,
        order_by=[col(WorkContract.user_id), col(WorkContract.valid_from).desc()], scalars=True,
    )  # fmt: skip


async def _check_calendar(ctx: OrgContext, calendar_id: uuid.UUID | None) -> None:
    if calendar_id is not None and await ctx.session.get(HolidayCalendar, (ctx.org_id, calendar_id)) is None:
        raise UnprocessableContent("No such holiday calendar in this organization.", extra={"field": "calendar_id"})


async def create_contract(ctx: OrgContext, data: schemas.ContractCreate) -> schemas.ContractRead:
    guard.require(ctx, "contract:manage")
    await _require_member(ctx, data.user_id)
    await _check_calendar(ctx, data.calendar_id)
    contract = WorkContract(
        org_id=ctx.org_id, user_id=data.user_id, valid_from=data.valid_from,
        weekday_minutes=list(data.weekday_minutes), calendar_id=data.calendar_id,
    )  # fmt: skip
    ctx.session.add(contract)
    await _flush_or_conflict(ctx, f"This person has a contract from {data.valid_from} already.", "valid_from")
    await audit.record_in(
        ctx, action="work_contract.created", resource_type="work_contract", resource_id=contract.id,
        after=_contract_state(contract),
    )  # fmt: skip
    return _contract_read(contract)


async def _contract(ctx: OrgContext, contract_id: uuid.UUID) -> WorkContract:
    contract = await ctx.session.get(WorkContract, (ctx.org_id, contract_id), with_for_update=True)
    if contract is None:
        raise NotFound("No such contract.")
    return contract


async def update_contract(
    ctx: OrgContext, contract_id: uuid.UUID, data: schemas.ContractUpdate
) -> schemas.ContractRead:
    guard.require(ctx, "contract:manage")
    contract = await _contract(ctx, contract_id)
    before = _contract_state(contract)
    changes = data.model_dump(exclude_unset=True)
    if "calendar_id" in changes:
        await _check_calendar(ctx, data.calendar_id)
        contract.calendar_id = data.calendar_id
    if data.weekday_minutes is not None:
        contract.weekday_minutes = list(data.weekday_minutes)
    contract.updated_at = utcnow()
    await ctx.session.flush()
    await audit.record_in(
        ctx, action="work_contract.updated", resource_type="work_contract", resource_id=contract.id,
        before=before, after=_contract_state(contract),
    )  # fmt: skip
    return _contract_read(contract)


async def delete_contract(ctx: OrgContext, contract_id: uuid.UUID) -> None:
    guard.require(ctx, "contract:manage")
    contract = await _contract(ctx, contract_id)
    before = _contract_state(contract)
    await ctx.session.delete(contract)
    await ctx.session.flush()
    await audit.record_in(
        ctx, action="work_contract.deleted", resource_type="work_contract", resource_id=contract_id, before=before
    )


# --- absences ------------------------------------------------------------------------------------


def _absence_read(absence: Absence, names: dict[uuid.UUID, str | None]) -> schemas.AbsenceRead:
    return schemas.AbsenceRead(
        id=absence.id, user_id=absence.user_id, name=names.get(absence.user_id), kind=absence.kind,
        first_day=absence.first_day, last_day=absence.last_day, half_day=absence.half_day, note=absence.note,
        created_by=absence.created_by, created_at=absence.created_at,
    )  # fmt: skip


def _absence_state(absence: Absence) -> dict[str, Any]:
    # The note stays out of the trail: it may say why someone is sick.
    return {
        "user_id": absence.user_id,
        "kind": absence.kind,
        "first_day": absence.first_day,
        "last_day": absence.last_day,
        "half_day": absence.half_day,
    }


async def list_absences(
    ctx: OrgContext,
    page: PageParams,
    user_id: uuid.UUID | None,
    first: date | None,
    last: date | None,
    scope: str = "mine",
) -> Page[schemas.AbsenceRead]:
    """``scope=mine`` your own; ``scope=team`` everyone you may see (org-wide readers: everyone; a lead:
    the people on their projects, and themselves); ``user_id`` one person."""
    guard.require(ctx, "worktime:read")
    query = select(Absence).where(col(Absence.org_id) == ctx.org_id)
    if user_id is not None:
        await _require_for(ctx, user_id, "team_worktime:read")
        query = query.where(col(Absence.user_id) == user_id)
    elif scope == "team":
        if not guard.allowed(ctx, "team_worktime:read"):
            people = await _team(ctx, "team_worktime:read") | {ctx.user_id}
            query = query.where(col(Absence.user_id).in_(people))
    else:
        query = query.where(col(Absence.user_id) == ctx.user_id)
    if first is not None:
        query = query.where(col(Absence.last_day) >= first)
    if last is not None:
        query = query.where(col(Absence.first_day) <= last)
    result = await paginate(
        ctx.session, query, page, lambda a: a, order_by=[col(Absence.first_day).desc(), col(Absence.id)], scalars=True
    )
    names = await _names(ctx, {a.user_id for a in result.items})
    return Page(
        items=[_absence_read(a, names) for a in result.items], total=result.total, limit=result.limit,
        offset=result.offset,
    )  # fmt: skip


async def _require_records_absence_of(ctx: OrgContext, person: uuid.UUID) -> None:
    """Your own absences with absence:create (not the auditor's); others' with absence:manage, org-wide
    or as their lead."""
    if person == ctx.user_id:
        guard.require(ctx, "absence:create")
    else:
        await _require_for(ctx, person, "absence:manage")


async def create_absence(ctx: OrgContext, data: schemas.AbsenceCreate) -> schemas.AbsenceRead:
    person = data.user_id or ctx.user_id
    await _require_records_absence_of(ctx, person)
    if person != ctx.user_id:
        await _require_member(ctx, person)
    absence = Absence(
        org_id=ctx.org_id, user_id=person, kind=data.kind, first_day=data.first_day, last_day=data.last_day,
        half_day=data.half_day, note=data.note, created_by=ctx.user_id,
    )  # fmt: skip
    ctx.session.add(absence)
    await _flush_or_conflict(ctx, "This absence overlaps another one of the same person.", "first_day")
    await audit.record_in(
        ctx, action="absence.created", resource_type="absence", resource_id=absence.id, after=_absence_state(absence)
    )
    return _absence_read(absence, await _names(ctx, {person}))


async def delete_absence(ctx: OrgContext, absence_id: uuid.UUID) -> None:
    if not (guard.holds(ctx, "absence:create") or guard.holds(ctx, "absence:manage")):
        guard.require(ctx, "absence:create")  # the auditor: a 403 before any absence is looked up
    absence = await ctx.session.get(Absence, (ctx.org_id, absence_id), with_for_update=True)
    if absence is None:
        raise NotFound("No such absence.")
    await _require_records_absence_of(ctx, absence.user_id)
    before = _absence_state(absence)
    await ctx.session.delete(absence)
    await ctx.session.flush()
    await audit.record_in(ctx, action="absence.deleted", resource_type="absence", resource_id=absence_id, before=before)


# --- the balance ---------------------------------------------------------------------------------


async def _contracts_of(ctx: OrgContext, user_id: uuid.UUID) -> list[WorkContract]:
    rows = await ctx.session.scalars(
        select(WorkContract)
        .where(col(WorkContract.org_id) == ctx.org_id, col(WorkContract.user_id) == user_id)
        .order_by(col(WorkContract.valid_from))
    )
    return list(rows.all())


def _in_force(contracts: Sequence[WorkContract], day: date) -> WorkContract | None:
    found = None
    for contract in contracts:
        if contract.valid_from <= day:
            found = contract
        else:
            break
    return found


async def _days(
    ctx: OrgContext, user_id: uuid.UUID, first: date, last: date, contracts: Sequence[WorkContract]
) -> list[tracking.WorktimeDay]:
    """Expected, tracked and balance per day from ``first`` to ``last`` (no guard: callers decide)."""
    calendars = {c.calendar_id for c in contracts if c.calendar_id is not None}
    holidays: dict[tuple[uuid.UUID, date], str] = {}
    if calendars:
        rows = await ctx.session.scalars(
            select(Holiday).where(
                col(Holiday.org_id) == ctx.org_id,
                col(Holiday.calendar_id).in_(calendars),
                col(Holiday.day) >= first,
                col(Holiday.day) <= last,
            )
        )
        holidays = {(h.calendar_id, h.day): h.name for h in rows.all()}
    absences = (
        await ctx.session.scalars(
            select(Absence).where(
                col(Absence.org_id) == ctx.org_id,
                col(Absence.user_id) == user_id,
                and_(col(Absence.last_day) >= first, col(Absence.first_day) <= last),
            )
        )
    ).all()
    away: dict[date, Absence] = {}
    for absence in absences:
        day = max(absence.first_day, first)
        while day <= min(absence.last_day, last):
            away[day] = absence
            day += timedelta(days=1)
    tracked = await tracking.tracked_days(ctx, user_id, first, last)
    days = []
    day = first
    while day <= last:
        contract = _in_force(contracts, day)
        expected = contract.weekday_minutes[day.weekday()] if contract else 0
        holiday = holidays.get((contract.calendar_id, day)) if contract and contract.calendar_id else None
        today = away.get(day)
        if holiday is not None:
            expected = 0
        elif today is not None:
            expected = expected // 2 if today.half_day else 0
        minutes = tracked.seconds.get(day, 0) // 60
        days.append(
            tracking.WorktimeDay(
                day=day, expected_minutes=expected, tracked_minutes=minutes, balance_minutes=minutes - expected,
                holiday=holiday, absence=today.kind if today else None,
                half_day=bool(today and today.half_day),
            )
        )  # fmt: skip
        day += timedelta(days=1)
    return days


async def _range(
    ctx: OrgContext, user_id: uuid.UUID, first: date, last: date
) -> tuple[list[tracking.WorktimeDay], date | None, int]:
    """The days of the range, the first contract's day, and the cumulative balance from it to ``last``."""
    contracts = await _contracts_of(ctx, user_id)
    since = contracts[0].valid_from if contracts else None
    start = min(first, since) if since else first
    days = await _days(ctx, user_id, start, last, contracts)
    cumulative = sum(d.balance_minutes for d in days if since is not None and d.day >= since)
    return [d for d in days if d.day >= first], since, cumulative


async def balance(ctx: OrgContext, user_id: uuid.UUID | None, first: date, last: date) -> schemas.BalanceRead:
    guard.require(ctx, "worktime:read")
    person = user_id or ctx.user_id
    await _require_for(ctx, person, "team_worktime:read")
    if last < first:
        raise UnprocessableContent("'to' is before 'from'.", extra={"field": "to"})
    if (last - first).days >= MAX_RANGE_DAYS:
        raise UnprocessableContent(f"A balance covers at most {MAX_RANGE_DAYS} days.", extra={"field": "to"})
    days, since, cumulative = await _range(ctx, person, first, last)
    return schemas.BalanceRead(
        user_id=person,
        time_zone=await tracking.time_zone_of(ctx, person),
        from_=first,
        to=last,
        expected_minutes=sum(d.expected_minutes for d in days),
        tracked_minutes=sum(d.tracked_minutes for d in days),
        balance_minutes=sum(d.balance_minutes for d in days),
        balance_since=since,
        cumulative_balance_minutes=cumulative,
        days=days,
    )


async def week_worktime(ctx: OrgContext, user_id: uuid.UUID, week_start: date) -> tracking.WeekWorktime | None:
    """The timesheet's working time for the week (the timesheet decided who may read it): None for a
    caller who may not read this person's working time."""
    try:
        await _require_for(ctx, user_id, "team_worktime:read")
    except Forbidden:
        return None
    days, _, cumulative = await _range(ctx, user_id, week_start, week_start + timedelta(days=6))
    expected = sum(d.expected_minutes for d in days)
    tracked = sum(d.tracked_minutes for d in days)
    return tracking.WeekWorktime(
        expected_minutes=expected, tracked_minutes=tracked, overtime_minutes=tracked - expected,
        balance_minutes=cumulative, days=days,
    )  # fmt: skip


async def team_week(ctx: OrgContext, user_ids: Sequence[uuid.UUID], week_start: date) -> list[schemas.TeamWeekRow]:
    """Each person's week (expected, tracked, overtime, running balance) and their absences that week,
    for the people among ``user_ids`` the caller may read."""
    guard.require(ctx, "worktime:read")
    org_wide = guard.allowed(ctx, "team_worktime:read")
    team = set() if org_wide else await _team(ctx, "team_worktime:read") | {ctx.user_id}
    visible = [u for u in user_ids if org_wide or u in team]
    names = await _names(ctx, set(visible))
    last = week_start + timedelta(days=6)
    rows = []
    for person in visible:
        days, _, cumulative = await _range(ctx, person, week_start, last)
        absences = (
            await ctx.session.scalars(
                select(Absence)
                .where(
                    col(Absence.org_id) == ctx.org_id,
                    col(Absence.user_id) == person,
                    col(Absence.last_day) >= week_start,
                    col(Absence.first_day) <= last,
                )
                .order_by(col(Absence.first_day))
            )
        ).all()
        expected = sum(d.expected_minutes for d in days)
        tracked = sum(d.tracked_minutes for d in days)
        rows.append(
            schemas.TeamWeekRow(
                user_id=person, name=names.get(person), expected_minutes=expected, tracked_minutes=tracked,
                overtime_minutes=tracked - expected, balance_minutes=cumulative,
                absences=[_absence_read(a, names) for a in absences],
            )
        )  # fmt: skip
    return rows


async def absences_in_week(ctx: OrgContext, user_id: uuid.UUID, week_start: date) -> list[schemas.AbsenceRead]:
    """A person's absences touching the week, for an approver's queue row (empty for a caller who may not
    read this person's working time)."""
    try:
        await _require_for(ctx, user_id, "team_worktime:read")
    except Forbidden:
        return []
    rows = await ctx.session.scalars(
        select(Absence)
        .where(
            col(Absence.org_id) == ctx.org_id,
            col(Absence.user_id) == user_id,
            col(Absence.last_day) >= week_start,
            col(Absence.first_day) <= week_start + timedelta(days=6),
        )
        .order_by(col(Absence.first_day))
    )
    found = list(rows.all())
    names = await _names(ctx, {user_id}) if found else {}
    return [_absence_read(a, names) for a in found]
