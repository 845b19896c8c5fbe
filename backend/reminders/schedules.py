"""Scheduled exports: recurring exports (e.g. last month's timesheet every 1st at 08:00) started by the
reminders tick and mailed to their recipients when done.

- CRUD (``export_schedule:list`` / ``export_schedule:manage``, auditors, admins and owners), audited.
- ``start_due`` (called by the ``evaluate_reminders`` job, the workers' one scheduler) starts the export of
  each due schedule through the exports service, with the reach of the schedule's creator as it stands
  then. The run row's primary key (organization, schedule, period start) is inserted in the export's own
  transaction, under a lock on the schedule row: a second tick for the same period starts nothing.
- ``mail_run`` (the ``mail_scheduled_export`` job the export job sends when an export is done, and the tick
  as a backstop) queues one mail per recipient with a mailed download link and the manifest's summary,
  and marks the run mailed in the same transaction, so each run is mailed once.

A schedule runs at its latest occurrence (its day or weekday at its local time, in its time zone) if that
was at most ``CATCH_UP`` ago: workers down for a few hours still send it, a schedule created after its day
waits for the next one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.core import audit, mail
from backend.core.db import Database, bind_tenant
from backend.core.errors import NotFound, ProblemError, UnprocessableContent
from backend.core.models import utcnow
from backend.core.pagination import Page, PageParams, paginate
from backend.exports import service as exports
from backend.reminders import schemas
from backend.reminders.models import ExportSchedule, ExportScheduleRun, ScheduleCadence, SchedulePeriod
from backend.reports import service as reports
from backend.settings import get_settings
from backend.tenancy import guard
from backend.tenancy.context import OrgContext
from backend.tenancy.roles import OrgRole
from backend.tracking import service as tracking

log = structlog.get_logger(__name__)
CATCH_UP = timedelta(hours=24)
#: What a recipient needs to open the mailed link: the export's file, made with the creator's org-wide reach.
RECIPIENT_PERMISSIONS = ("export:read", "team_report:read")
_FIELDS = (
    "name", "enabled", "cadence", "day_of_month", "weekday", "local_time", "time_zone", "period", "kind",
    "format", "recipients",
)  # fmt: skip
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    keep_trailing_newline=True,
)


def _state(schedule: ExportSchedule) -> dict[str, Any]:
    state = {field: getattr(schedule, field) for field in _FIELDS}
    state["local_time"] = schedule.local_time.isoformat(timespec="minutes")
    state["recipients"] = [str(user) for user in schedule.recipients]
    return state


def _read(schedule: ExportSchedule) -> schemas.ScheduleRead:
    return schemas.ScheduleRead.model_validate(schedule)


async def _load(ctx: OrgContext, schedule_id: uuid.UUID, *, lock: bool = False) -> ExportSchedule:
    found = await ctx.session.get(ExportSchedule, (ctx.org_id, schedule_id), with_for_update=lock)
    if found is None:
        raise NotFound("No such export schedule.")
    return found


def _may_receive(role: str) -> bool:
    subject = (OrgRole(role).subject,)
    return all(guard.policy.allows(subject, permission) for permission in RECIPIENT_PERMISSIONS)


async def _recipients(session: AsyncSession, org_id: uuid.UUID, wanted: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """The wanted people who are active members now: user id -> row (role, email, name)."""
    rows = await session.execute(
        text(
            "SELECT m.user_id, m.role, u.email, coalesce(u.display_name, u.username, '') AS name"
            " FROM memberships m JOIN users u ON u.id = m.user_id"
            " WHERE m.org_id = :org AND m.user_id = ANY(:users) AND m.status = 'active'"
            " AND NOT u.is_service_account AND u.disabled_at IS NULL"
        ),
        {"org": org_id, "users": list(wanted)},
    )
    return {row.user_id: row for row in rows}


async def _check_recipients(ctx: OrgContext, wanted: Sequence[uuid.UUID]) -> None:
    found = await _recipients(ctx.session, ctx.org_id, wanted)
    strangers = [str(user) for user in wanted if user not in found]
    if strangers:
        raise UnprocessableContent(
            f"These recipients are not active members of the organization: {', '.join(strangers)}.",
            extra={"field": "recipients"},
        )
    barred = [str(user) for user in wanted if not _may_receive(found[user].role)]
    if barred:
        raise UnprocessableContent(
            "These recipients may not read the organization's exports (it takes a manager, admin, owner or "
            f"auditor): {', '.join(barred)}.",
            extra={"field": "recipients"},
        )


async def create_schedule(ctx: OrgContext, data: schemas.ScheduleCreate) -> schemas.ScheduleRead:
    guard.require(ctx, "export_schedule:manage")
    zone = reports.valid_zone(data.time_zone)
    await _check_recipients(ctx, data.recipients)
    schedule = ExportSchedule(
        org_id=ctx.org_id,
        name=data.name,
        enabled=data.enabled,
        cadence=data.cadence.value,
        day_of_month=data.day_of_month,
        weekday=data.weekday,
        local_time=data.local_time,
        time_zone=zone,
        period=data.period.value,
        kind=data.kind,
        format=data.format,
        recipients=list(data.recipients),
        created_by=ctx.user_id,
    )
    ctx.session.add(schedule)
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="export_schedule.created",
        resource_type="export_schedule",
        resource_id=schedule.id,
        after=_state(schedule),
    )
    return _read(schedule)


async def list_schedules(ctx: OrgContext, page: PageParams) -> Page[schemas.ScheduleRead]:
    guard.require(ctx, "export_schedule:list")
    query = select(ExportSchedule).where(col(ExportSchedule.org_id) == ctx.org_id)
    order = [col(ExportSchedule.created_at), col(ExportSchedule.id)]
    return await paginate(ctx.session, query, page, _read, order_by=order, scalars=True)


async def get_schedule(ctx: OrgContext, schedule_id: uuid.UUID) -> schemas.ScheduleRead:
    guard.require(ctx, "export_schedule:list")
    return _read(await _load(ctx, schedule_id))


async def update_schedule(
    ctx: OrgContext, schedule_id: uuid.UUID, data: schemas.ScheduleUpdate
) -> schemas.ScheduleRead:
    guard.require(ctx, "export_schedule:manage")
    schedule = await _load(ctx, schedule_id, lock=True)
    before = _state(schedule)
    changes = data.model_dump(exclude_unset=True)
    nullable = {"day_of_month", "weekday"}  # switching the cadence clears the other one's day
    changes = {field: value for field, value in changes.items() if value is not None or field in nullable}
    if "cadence" in changes:
        cadence = ScheduleCadence(changes["cadence"])
        if cadence == ScheduleCadence.MONTHLY:
            changes.setdefault("weekday", None)
        else:
            changes.setdefault("day_of_month", None)
    if "time_zone" in changes:
        changes["time_zone"] = reports.valid_zone(changes["time_zone"])
    if "recipients" in changes:
        changes["recipients"] = list(dict.fromkeys(changes["recipients"]))
        await _check_recipients(ctx, changes["recipients"])
    for field, value in changes.items():
        setattr(schedule, field, value.value if isinstance(value, ScheduleCadence | SchedulePeriod) else value)
    try:
        schemas.check_cadence(ScheduleCadence(schedule.cadence), schedule.day_of_month, schedule.weekday)
    except ValueError as exc:
        raise UnprocessableContent(f"{exc}.", extra={"field": "cadence"}) from None
    after = _state(schedule)
    if after != before:
        schedule.updated_at = utcnow()
        await ctx.session.flush()
        await audit.record_in(
            ctx,
            action="export_schedule.updated",
            resource_type="export_schedule",
            resource_id=schedule.id,
            before=before,
            after=after,
        )
    return _read(schedule)


async def delete_schedule(ctx: OrgContext, schedule_id: uuid.UUID) -> None:
    """Removes the schedule and its run rows; the exports it made stay (they expire as usual)."""
    guard.require(ctx, "export_schedule:manage")
    schedule = await _load(ctx, schedule_id, lock=True)
    before = _state(schedule)
    await ctx.session.delete(schedule)
    await ctx.session.flush()
    await audit.record_in(
        ctx, action="export_schedule.deleted", resource_type="export_schedule", resource_id=schedule_id, before=before
    )


# When a schedule runs, and what it exports -----------------------------------------------------------


def _month_day(year: int, month: int, day: int) -> date:
    while month < 1:
        year, month = year - 1, month + 12
    return date(year, month, day)


def latest_occurrence(schedule: ExportSchedule, now: datetime) -> datetime:
    """The schedule's latest run time at or before ``now`` (aware, in its time zone)."""
    zone = ZoneInfo(schedule.time_zone)
    local = now.astimezone(zone)
    if schedule.cadence == ScheduleCadence.MONTHLY:
        day = schedule.day_of_month or 1
        at = datetime.combine(_month_day(local.year, local.month, day), schedule.local_time, tzinfo=zone)
        if at > local:
            at = datetime.combine(_month_day(local.year, local.month - 1, day), schedule.local_time, tzinfo=zone)
        return at
    back = (local.isoweekday() - (schedule.weekday or 1)) % 7
    at = datetime.combine(local.date() - timedelta(days=back), schedule.local_time, tzinfo=zone)
    if at > local:
        at = datetime.combine(at.date() - timedelta(days=7), schedule.local_time, tzinfo=zone)
    return at


def period_of(schedule: ExportSchedule, run_date: date) -> tuple[date, date]:
    """The days (first, last) a run on ``run_date`` exports."""
    if schedule.period == SchedulePeriod.PREVIOUS_MONTH:
        last = run_date.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    first = run_date - timedelta(days=run_date.weekday() + 7)
    return first, first + timedelta(days=6)


def due_period(schedule: ExportSchedule, now: datetime) -> tuple[date, date] | None:
    """The period to export now, or None when the latest occurrence is older than ``CATCH_UP``."""
    at = latest_occurrence(schedule, now)
    if now - at.astimezone(UTC) > CATCH_UP:
        return None
    return period_of(schedule, at.date())


# The tick (the worker's side) -------------------------------------------------------------------------


async def _start(session: AsyncSession, schedule: ExportSchedule, first: date, last: date) -> uuid.UUID | None:
    await bind_tenant(session, org_id=schedule.org_id, user_id=schedule.created_by)
    try:
        ctx = await tracking.worker_context(session, schedule.org_id, schedule.created_by)
        made = await exports.create_for_schedule(
            ctx, kind=schedule.kind, fmt=schedule.format, first=first, last=last, time_zone=schedule.time_zone
        )
    except ProblemError as exc:  # the creator left, or may no longer export: nothing to start
        log.warning("export_schedule_not_started", schedule_id=str(schedule.id), reason=exc.detail)
        return None
    finally:
        await bind_tenant(session, org_id=schedule.org_id, user_id=None)
    session.add(
        ExportScheduleRun(
            org_id=schedule.org_id, schedule_id=schedule.id, period_start=first, period_end=last, export_id=made.id
        )
    )
    await session.flush()
    log.info("export_schedule_started", schedule_id=str(schedule.id), export_id=str(made.id), period=str(first))
    return made.id


async def start_due_org(db: Database, org_id: uuid.UUID, *, now: datetime | None = None) -> int:
    """Start every due schedule of one organization (once per period); returns how many exports started."""
    now = now or utcnow()
    started = 0
    async with db.unit_of_work(org_id=org_id) as session:
        schedules = (
            await session.scalars(
                select(ExportSchedule)
                .where(col(ExportSchedule.org_id) == org_id, col(ExportSchedule.enabled).is_(True))
                .order_by(col(ExportSchedule.id))
                .with_for_update()  # overlapping ticks wait here, then see the other's run rows
            )
        ).all()
        for schedule in schedules:
            period = due_period(schedule, now)
            if period is None:
                continue
            if await session.get(ExportScheduleRun, (org_id, schedule.id, period[0])) is not None:
                continue
            if await _start(session, schedule, *period) is not None:
                started += 1
        # Backstop for a lost follow-up job: finished, unmailed runs are mailed now.
        waiting = await session.scalars(
            select(col(ExportScheduleRun.export_id)).where(
                col(ExportScheduleRun.org_id) == org_id, col(ExportScheduleRun.mailed_at).is_(None)
            )
        )
        for export_id in waiting.all():
            await _mail(session, org_id, export_id)
    return started


async def start_due(db: Database, *, now: datetime | None = None) -> dict[str, int]:
    """Every organization with an enabled schedule (listed through the owner's maintenance policy)."""
    import asyncpg

    settings = get_settings()
    owner = await asyncpg.connect(settings.database_owner_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        orgs = [
            row["org_id"] for row in await owner.fetch("SELECT DISTINCT org_id FROM export_schedules WHERE enabled")
        ]
    finally:
        await owner.close()
    counts = {"organizations": len(orgs), "started": 0}
    for org_id in orgs:
        try:
            counts["started"] += await start_due_org(db, org_id, now=now)
        except Exception as exc:  # one organization's failure must not hold back the others
            log.warning("export_schedules_failed", org_id=str(org_id), error=f"{type(exc).__name__}: {exc}"[:300])
    log.info("export_schedules", **counts)
    return counts


# The mail, when the export is done --------------------------------------------------------------------


def render(values: dict[str, Any]) -> tuple[str, str]:
    return (
        _templates.get_template("export_ready.txt.j2").render(values),
        _templates.get_template("export_ready.html.j2").render(values),
    )


async def _mail(session: AsyncSession, org_id: uuid.UUID, export_id: uuid.UUID) -> int:
    """Queue the recipients' mail for the run of ``export_id`` if it is done and not mailed yet (the run row
    is locked, and marked mailed in this transaction); returns how many mails were queued."""
    run = await session.scalar(
        select(ExportScheduleRun)
        .where(col(ExportScheduleRun.org_id) == org_id, col(ExportScheduleRun.export_id) == export_id)
        .with_for_update()
    )
    if run is None or run.mailed_at is not None:
        return 0
    export = await exports.finished(session, org_id, export_id)
    if export is None or export.manifest is None:
        return 0  # not done yet (or failed: nothing to send)
    schedule = await session.get(ExportSchedule, (org_id, run.schedule_id))
    if schedule is None:
        return 0
    org_name = str(await session.scalar(text("SELECT name FROM organizations WHERE id = :org"), {"org": org_id}))
    base = (get_settings().web_base_url or "http://localhost:8000").rstrip("/")
    signature = export.manifest.get("signature") or {}
    people = await _recipients(session, org_id, schedule.recipients)
    sent = 0
    for user_id in schedule.recipients:
        person = people.get(user_id)
        if person is None or not person.email or not _may_receive(person.role):
            continue  # left the organization, or lost the role, since the schedule was saved
        link = exports.mail_link(org_id, export_id, user_id, base)
        plain, html = render(
            {
                "name": person.name or "there",
                "org_name": org_name,
                "schedule_name": schedule.name,
                "kind": export.kind,
                "format": export.format,
                "period_start": export.period_start,
                "period_end": export.period_end,
                "time_zone": export.time_zone,
                "rows": export.manifest.get("row_count"),
                "sha256": export.sha256,
                "key_id": signature.get("key_id"),
                "link": link.url,
                "expires_at": link.expires_at,
            }
        )
        subject = f"{schedule.name}: {export.period_start} to {export.period_end} · {org_name}"
        mail.enqueue(person.email, subject, plain, html)
        sent += 1
    run.mailed_at = utcnow()
    await session.flush()
    log.info("export_schedule_mailed", schedule_id=str(schedule.id), export_id=str(export_id), recipients=sent)
    return sent


async def mail_run(db: Database, org_id: uuid.UUID, export_id: uuid.UUID) -> int:
    """The follow-up of a finished export: its scheduled run's mail (nothing for an unscheduled export)."""
    async with db.unit_of_work(org_id=org_id) as session:
        return await _mail(session, org_id, export_id)
