"""Time tracking: entries and the running timer, rates snapshotted on write, timesheet approval, the
period lock with its correction entries, and CSV imports.

The rules that are not permissions (see docs/time-tracking.md):

- one running entry per person and organization (a partial unique index), and no overlapping entries
  for one person while the organization prevents overlaps (an exclusion constraint);
- an entry that starts before ``locked_until`` cannot be created, changed or deleted by anyone; it is
  fixed with an append-only correction;
- an entry whose week (in its person's time zone) is submitted or approved is read-only until an
  approver reopens it;
- the billable rate and currency in force are stored on the entry when it is written, and only an
  explicit recalculation over a date range changes them afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.core import audit
from backend.core.auth import Principal
from backend.core.errors import Conflict, Forbidden, NotFound, ProblemError, UnprocessableContent
from backend.core.models import utcnow
from backend.core.pagination import Page, PageParams, paginate
from backend.projects import service as projects_service
from backend.tenancy import guard
from backend.tenancy.context import OrgContext, OrgInfo, ProjectContext, enter_project, project_info, within_project
from backend.tenancy.models import Membership, Organization, Project, ProjectMembership, User
from backend.tenancy.roles import MembershipStatus, OrgRole, ProjectRole
from backend.tenancy.users import UserInfo
from backend.tracking import schemas
from backend.tracking.importer import ImportRow
from backend.tracking.models import (
    DEFAULT_CURRENCY,
    DEFAULT_MAX_DURATION_MINUTES,
    DEFAULT_MAX_FUTURE_MINUTES,
    MemberTimeZone,
    TimeEntry,
    TimeEntryCorrection,
    TimeImport,
    TimeRate,
    TimeSettings,
    Timesheet,
    TimeTag,
)

T = TypeVar("T")
UTC_ZONE = "UTC"
#: Projects have no billable flag yet; every new entry is billable unless the caller says otherwise.
PROJECT_BILLABLE_DEFAULT = True
FROZEN_STATUSES = ("submitted", "approved")
IMPORT_CLIENT_ID = "worktime-import"

# --- settings, zones, rates ------------------------------------------------------------------------


def _default_settings(org_id: uuid.UUID) -> TimeSettings:
    return TimeSettings(
        org_id=org_id,
        currency=DEFAULT_CURRENCY,
        default_rate=None,
        max_duration_minutes=DEFAULT_MAX_DURATION_MINUTES,
        max_future_minutes=DEFAULT_MAX_FUTURE_MINUTES,
        prevent_overlaps=True,
        locked_until=None,
    )


async def _settings(ctx: OrgContext, *, for_update: bool = False) -> TimeSettings:
    found = await ctx.session.get(TimeSettings, ctx.org_id, with_for_update=for_update)
    return found if found is not None else _default_settings(ctx.org_id)


def _settings_read(settings: TimeSettings) -> schemas.TimeSettingsRead:
    return schemas.TimeSettingsRead(
        currency=settings.currency,
        default_rate=settings.default_rate,
        max_duration_minutes=settings.max_duration_minutes,
        max_future_minutes=settings.max_future_minutes,
        prevent_overlaps=settings.prevent_overlaps,
        locked_until=settings.locked_until,
    )


def _settings_state(settings: TimeSettings) -> dict[str, Any]:
    return _settings_read(settings).model_dump()


async def _zones(ctx: OrgContext, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    wanted = set(user_ids)
    if not wanted:
        return {}
    rows = await ctx.session.execute(
        select(col(MemberTimeZone.user_id), col(MemberTimeZone.time_zone)).where(
            col(MemberTimeZone.org_id) == ctx.org_id, col(MemberTimeZone.user_id).in_(wanted)
        )
    )
    found = {row[0]: row[1] for row in rows.all()}
    return {user_id: found.get(user_id, UTC_ZONE) for user_id in wanted}


async def _zone(ctx: OrgContext, user_id: uuid.UUID) -> str:
    return (await _zones(ctx, [user_id]))[user_id]


@dataclass(frozen=True, slots=True)
class RateBook:
    """Every rate of the organization, resolved org default → member → project → member-on-project."""

    currency: str
    default: Decimal | None
    rates: dict[tuple[uuid.UUID | None, uuid.UUID | None], Decimal]

    def resolve(self, user_id: uuid.UUID, project_id: uuid.UUID) -> Decimal | None:
        for key in ((user_id, project_id), (None, project_id), (user_id, None)):
            if key in self.rates:
                return self.rates[key]
        return self.default


async def _rate_book(ctx: OrgContext, settings: TimeSettings) -> RateBook:
    rows = await ctx.session.execute(
        select(col(TimeRate.user_id), col(TimeRate.project_id), col(TimeRate.amount)).where(
            col(TimeRate.org_id) == ctx.org_id
        )
    )
    return RateBook(
        currency=settings.currency,
        default=settings.default_rate,
        rates={(row[0], row[1]): row[2] for row in rows.all()},
    )


async def _snapshot_rate(ctx: OrgContext, settings: TimeSettings, entry: TimeEntry) -> None:
    rows = await ctx.session.execute(
        select(col(TimeRate.user_id), col(TimeRate.project_id), col(TimeRate.amount)).where(
            col(TimeRate.org_id) == ctx.org_id,
            or_(
                and_(col(TimeRate.user_id) == entry.user_id, col(TimeRate.project_id) == entry.project_id),
                and_(col(TimeRate.user_id).is_(None), col(TimeRate.project_id) == entry.project_id),
                and_(col(TimeRate.user_id) == entry.user_id, col(TimeRate.project_id).is_(None)),
            ),
        )
    )
    book = RateBook(settings.currency, settings.default_rate, {(r[0], r[1]): r[2] for r in rows.all()})
    entry.rate, entry.currency = book.resolve(entry.user_id, entry.project_id), settings.currency


# --- reading entries -------------------------------------------------------------------------------


def _local(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone))


def _amount(entry: TimeEntry, seconds: int | None) -> Decimal | None:
    if entry.rate is None or seconds is None or not entry.billable:
        return None
    return (entry.rate * Decimal(seconds) / Decimal(3600)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _read(
    entry: TimeEntry, zone: str, corrections: int = 0, locked_until: datetime | None = None
) -> schemas.TimeEntryRead:
    corrected = None if entry.duration_seconds is None else entry.duration_seconds + corrections
    return schemas.TimeEntryRead(
        id=entry.id,
        user_id=entry.user_id,
        project_id=entry.project_id,
        task_id=entry.task_id,
        description=entry.description,
        start_at=entry.start_at.astimezone(UTC),
        end_at=entry.end_at.astimezone(UTC) if entry.end_at else None,
        time_zone=zone,
        start_local=_local(entry.start_at, zone),
        end_local=_local(entry.end_at, zone) if entry.end_at else None,
        duration_seconds=entry.duration_seconds,
        corrected_duration_seconds=corrected,
        running=entry.end_at is None,
        billable=entry.billable,
        tags=list(entry.tags),
        rate=entry.rate,
        currency=entry.currency,
        amount=_amount(entry, corrected),
        source=entry.source,
        locked=locked_until is not None and entry.start_at < locked_until,
        created_at=entry.created_at,
        updated_at=entry.updated_at,
    )


async def _correction_sums(ctx: OrgContext, entry_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not entry_ids:
        return {}
    rows = await ctx.session.execute(
        select(col(TimeEntryCorrection.entry_id), func.sum(col(TimeEntryCorrection.duration_delta_seconds)))
        .where(col(TimeEntryCorrection.org_id) == ctx.org_id, col(TimeEntryCorrection.entry_id).in_(entry_ids))
        .group_by(col(TimeEntryCorrection.entry_id))
    )
    return {row[0]: int(row[1]) for row in rows.all()}


async def _reads(ctx: OrgContext, entries: Sequence[TimeEntry]) -> list[schemas.TimeEntryRead]:
    zones = await _zones(ctx, {entry.user_id for entry in entries})
    sums = await _correction_sums(ctx, [entry.id for entry in entries])
    settings = await _settings(ctx)
    return [_read(e, zones[e.user_id], sums.get(e.id, 0), settings.locked_until) for e in entries]


async def _read_one(ctx: OrgContext, entry: TimeEntry) -> schemas.TimeEntryRead:
    return (await _reads(ctx, [entry]))[0]


def _state(entry: TimeEntry) -> dict[str, Any]:
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


# --- who may touch which entry ---------------------------------------------------------------------


def _with_field(exc: ProblemError, field: str) -> ProblemError:
    exc.extra.setdefault("field", field)
    return exc


async def _project_for(ctx: OrgContext, project_id: uuid.UUID, *, field: str = "project_id") -> ProjectContext:
    """The entry's project as the caller sees it; an unknown project is the request's fault (422)."""
    try:
        return await enter_project(ctx, project_id)
    except NotFound:
        raise UnprocessableContent("No such project in this organization.", extra={"field": field}) from None


def _require_on(pctx: ProjectContext, permission: str, *, field: str = "project_id") -> None:
    try:
        guard.require(pctx, permission)
    except (Forbidden, Conflict) as exc:
        if isinstance(exc, Forbidden) and permission.startswith("time_entry:"):
            exc.detail = f"You cannot log or change time on the project '{pctx.project.name}': {exc.detail}"
        raise _with_field(exc, field) from None


async def _authorize_entry(
    ctx: OrgContext, project_id: uuid.UUID, owner: uuid.UUID, action: str, *, field: str = "project_id"
) -> ProjectContext:
    """Your own entry needs ``time_entry:<action>`` on its project; anyone else's ``team_time:update``."""
    pctx = await _project_for(ctx, project_id, field=field)
    _require_on(pctx, f"time_entry:{action}" if owner == ctx.user_id else "team_time:update", field=field)
    return pctx


async def _projects_where(ctx: OrgContext, permission: str) -> list[uuid.UUID]:
    """The projects in which the caller's own project role grants ``permission`` (for leads)."""
    rows = await ctx.session.execute(
        select(Project, col(ProjectMembership.role))
        .join(ProjectMembership, col(ProjectMembership.project_id) == col(Project.id))
        .where(col(ProjectMembership.user_id) == ctx.user_id, col(Project.org_id) == ctx.org_id)
    )
    found = []
    for project, role in rows.all():
        pctx = within_project(ctx, project_info(project), ProjectRole(role))
        if guard.allowed(pctx, permission):
            found.append(project.id)
    return found


async def led_projects(ctx: OrgContext) -> list[uuid.UUID]:
    """The projects whose team time the caller reads through their own project role (leads); reports and
    exports scope a lead's figures with it."""
    return await _projects_where(ctx, "team_time:read")


async def _can_read(ctx: OrgContext, entry: TimeEntry) -> None:
    if entry.user_id == ctx.user_id:
        return
    pctx = await enter_project(ctx, entry.project_id)
    guard.require(pctx, "team_time:read")


async def _load(ctx: OrgContext, entry_id: uuid.UUID, *, for_update: bool = False) -> TimeEntry:
    entry = await ctx.session.get(TimeEntry, (ctx.org_id, entry_id), with_for_update=for_update)
    if entry is None:
        raise NotFound("No such time entry.")
    return entry


async def _require_member(ctx: OrgContext, user_id: uuid.UUID, *, field: str = "user_id") -> None:
    membership = await ctx.session.get(Membership, (ctx.org_id, user_id))
    if membership is None or membership.status != "active":
        raise UnprocessableContent("No such member in this organization.", extra={"field": field})


# --- the rules on an entry's times -----------------------------------------------------------------


def _week_start(moment: datetime, zone: str) -> date:
    local = _local(moment, zone).date()
    return local - timedelta(days=local.weekday())


def _iso_week(week_start: date) -> str:
    year, week, _ = week_start.isocalendar()
    return f"{year}-W{week:02d}"


async def _require_editable(ctx: OrgContext, settings: TimeSettings, entry: TimeEntry, *, field: str) -> None:
    """Neither in the locked period nor in a submitted or approved week."""
    if settings.locked_until is not None and entry.start_at < settings.locked_until:
        raise Conflict(
            f"Time before {settings.locked_until.isoformat()} is locked; add a correction entry instead.",
            extra={"field": field, "locked_until": settings.locked_until},
        )
    zone = await _zone(ctx, entry.user_id)
    week = _week_start(entry.start_at, zone)
    sheet = await ctx.session.scalar(
        select(Timesheet).where(
            col(Timesheet.org_id) == ctx.org_id,
            col(Timesheet.user_id) == entry.user_id,
            col(Timesheet.week_start) == week,
        )
    )
    if sheet is not None and sheet.status in FROZEN_STATUSES:
        raise Conflict(
            f"The timesheet for {_iso_week(week)} is {sheet.status}; it is read-only until it is reopened.",
            extra={"field": field, "timesheet_id": sheet.id},
        )


def _validate_times(settings: TimeSettings, entry: TimeEntry) -> None:
    now = utcnow()
    if entry.start_at > now + timedelta(minutes=settings.max_future_minutes):
        raise UnprocessableContent(
            f"start_at is more than {settings.max_future_minutes} minutes in the future.", extra={"field": "start_at"}
        )
    if entry.end_at is None:
        entry.duration_seconds = None
        return
    if entry.end_at < entry.start_at:
        raise UnprocessableContent("end_at is before start_at.", extra={"field": "end_at"})
    seconds = int((entry.end_at - entry.start_at).total_seconds())
    if seconds > settings.max_duration_minutes * 60:
        raise UnprocessableContent(
            f"The entry lasts longer than this organization's maximum of {settings.max_duration_minutes} minutes.",
            extra={"field": "end_at", "max_duration_minutes": settings.max_duration_minutes},
        )
    entry.duration_seconds = seconds


async def _running(ctx: OrgContext, user_id: uuid.UUID, *, for_update: bool = False) -> TimeEntry | None:
    query = select(TimeEntry).where(
        col(TimeEntry.org_id) == ctx.org_id, col(TimeEntry.user_id) == user_id, col(TimeEntry.end_at).is_(None)
    )
    if for_update:
        query = query.with_for_update()
    return (await ctx.session.scalars(query)).first()


@dataclass(frozen=True, slots=True)
class _Span:
    id: uuid.UUID
    user_id: uuid.UUID
    start_at: datetime
    end_at: datetime | None


async def _overlapping(ctx: OrgContext, entry: _Span) -> TimeEntry | None:
    end = entry.end_at or datetime.max.replace(tzinfo=UTC)
    return (
        await ctx.session.scalars(
            select(TimeEntry)
            .where(
                col(TimeEntry.org_id) == ctx.org_id,
                col(TimeEntry.user_id) == entry.user_id,
                col(TimeEntry.id) != entry.id,
                col(TimeEntry.no_overlap),
                col(TimeEntry.start_at) < end,
                or_(col(TimeEntry.end_at).is_(None), col(TimeEntry.end_at) > entry.start_at),
            )
            .order_by(col(TimeEntry.start_at))
            .limit(1)
        )
    ).first()


async def _write_entry(
    ctx: OrgContext, entry: TimeEntry, mutate: Callable[[], Awaitable[None]] | None = None, *, new: bool
) -> None:
    """Apply ``mutate`` and write the entry in a savepoint (opened before any change, since opening one
    flushes); the database's constraints become 409s naming the other entry."""
    span: _Span | None = None
    try:
        async with ctx.session.begin_nested():
            if mutate is not None:
                await mutate()
            if new:
                ctx.session.add(entry)
            # Read before the flush: a failed savepoint expires the object's attributes.
            span = _Span(entry.id, entry.user_id, entry.start_at, entry.end_at)
            await ctx.session.flush()
    except IntegrityError as exc:
        assert span is not None
        message = str(exc.orig)
        if "uq_time_entries_running" in message:
            running = await _running(ctx, span.user_id)
            raise Conflict(
                "A timer is already running; stop it first or start with stop_running=true.",
                extra={"running_entry": (await _read_one(ctx, running)).model_dump(mode="json") if running else None},
            ) from None
        if "ex_time_entries_no_overlap" in message:
            other = await _overlapping(ctx, span)
            raise Conflict(
                "This entry overlaps another of the same person's entries."
                + (f" It overlaps entry {other.id}." if other else ""),
                extra={
                    "field": "start_at",
                    "conflicting_entry": (await _read_one(ctx, other)).model_dump(mode="json") if other else None,
                },
            ) from None
        if "uq_time_entries_org_id_import_key" in message:
            raise Conflict("This row was imported before.", extra={"field": "import_key"}) from None
        raise


async def _remember_tags(ctx: OrgContext, tags: Iterable[str]) -> None:
    names = sorted(set(tags))
    if names:
        await ctx.session.execute(
            insert(TimeTag).values([{"org_id": ctx.org_id, "name": name} for name in names]).on_conflict_do_nothing()
        )


def _clean_tags(tags: Iterable[str]) -> list[str]:
    return sorted({tag.strip() for tag in tags if tag.strip()})


# --- entries ---------------------------------------------------------------------------------------


async def create_entry(
    ctx: OrgContext,
    data: schemas.TimeEntryCreate,
    *,
    source: str = "manual",
    import_key: str | None = None,
    audited: bool = True,
) -> TimeEntry:
    """Log time (your own on a project you contribute to, or someone else's as their lead or an admin)."""
    owner = data.user_id or ctx.user_id
    pctx = await _authorize_entry(ctx, data.project_id, owner, "create")
    if owner != ctx.user_id:
        await _require_member(pctx, owner)
    settings = await _settings(ctx)
    end_at = data.end_at
    if data.duration_seconds is not None:
        computed = data.start_at + timedelta(seconds=data.duration_seconds)
        if end_at is not None and end_at != computed:
            raise UnprocessableContent("end_at and duration_seconds disagree.", extra={"field": "duration_seconds"})
        end_at = computed
    if end_at is None:
        raise UnprocessableContent(
            "Give end_at or duration_seconds (start a timer for a running entry).", extra={"field": "end_at"}
        )
    entry = TimeEntry(
        org_id=ctx.org_id,
        user_id=owner,
        project_id=data.project_id,
        task_id=data.task_id,
        description=data.description,
        start_at=data.start_at.astimezone(UTC),
        end_at=end_at.astimezone(UTC),
        billable=PROJECT_BILLABLE_DEFAULT if data.billable is None else data.billable,
        tags=_clean_tags(data.tags),
        no_overlap=settings.prevent_overlaps,
        source=source,
        import_key=import_key,
        created_by=ctx.user_id,
    )
    _validate_times(settings, entry)
    await _require_editable(ctx, settings, entry, field="start_at")
    await _snapshot_rate(ctx, settings, entry)
    await _write_entry(ctx, entry, new=True)
    await _remember_tags(ctx, entry.tags)
    if audited:
        await audit.record_in(
            ctx, action="time_entry.created", resource_type="time_entry", resource_id=entry.id, after=_state(entry)
        )
    return entry


async def create(ctx: OrgContext, data: schemas.TimeEntryCreate) -> schemas.TimeEntryRead:
    return await _read_one(ctx, await create_entry(ctx, data))


async def get(ctx: OrgContext, entry_id: uuid.UUID) -> schemas.TimeEntryRead:
    guard.require(ctx, "time_entry:read")
    entry = await _load(ctx, entry_id)
    await _can_read(ctx, entry)
    return await _read_one(ctx, entry)


@dataclass(frozen=True, slots=True)
class EntryFilters:
    from_: datetime | None = None
    to: datetime | None = None
    user_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = None
    billable: bool | None = None
    tag: str | None = None
    running: bool | None = None


async def _visible(ctx: OrgContext, query: Select[Any]) -> Select[Any]:
    """Everyone's entries for org-wide readers (admins, auditors); otherwise your own and those on the
    projects you lead."""
    if guard.allowed(ctx, "team_time:read"):
        return query
    led = await _projects_where(ctx, "team_time:read")
    if not led:
        return query.where(col(TimeEntry.user_id) == ctx.user_id)
    return query.where(or_(col(TimeEntry.user_id) == ctx.user_id, col(TimeEntry.project_id).in_(led)))


def _filtered(ctx: OrgContext, filters: EntryFilters) -> Select[Any]:
    query = select(TimeEntry).where(col(TimeEntry.org_id) == ctx.org_id)
    if filters.from_ is not None:
        query = query.where(col(TimeEntry.start_at) >= filters.from_)
    if filters.to is not None:
        query = query.where(col(TimeEntry.start_at) < filters.to)
    for column, value in (
        (TimeEntry.user_id, filters.user_id),
        (TimeEntry.project_id, filters.project_id),
        (TimeEntry.task_id, filters.task_id),
        (TimeEntry.billable, filters.billable),
    ):
        if value is not None:
            query = query.where(col(column) == value)
    if filters.tag is not None:
        query = query.where(col(TimeEntry.tags).contains([filters.tag]))
    if filters.running is not None:
        query = query.where(col(TimeEntry.end_at).is_(None) if filters.running else col(TimeEntry.end_at).isnot(None))
    return query


async def list_entries(ctx: OrgContext, page: PageParams, filters: EntryFilters) -> Page[schemas.TimeEntryRead]:
    """One query for the page, its total (a window count), each entry's corrections, its person's time
    zone and the period lock: a week's list is BEGIN, the context, this query and COMMIT."""
    guard.require(ctx, "time_entry:list")
    query = await _visible(ctx, _filtered(ctx, filters))
    corrections = (
        select(func.coalesce(func.sum(col(TimeEntryCorrection.duration_delta_seconds)), 0))
        .where(
            col(TimeEntryCorrection.org_id) == col(TimeEntry.org_id),
            col(TimeEntryCorrection.entry_id) == col(TimeEntry.id),
        )
        .scalar_subquery()
    )
    zone = (
        select(col(MemberTimeZone.time_zone))
        .where(
            col(MemberTimeZone.org_id) == col(TimeEntry.org_id), col(MemberTimeZone.user_id) == col(TimeEntry.user_id)
        )
        .scalar_subquery()
    )
    locked_until = (
        select(col(TimeSettings.locked_until)).where(col(TimeSettings.org_id) == ctx.org_id).scalar_subquery()
    )
    rows = (
        await ctx.session.execute(
            query.add_columns(corrections, func.coalesce(zone, UTC_ZONE), locked_until, func.count().over())
            .order_by(col(TimeEntry.start_at).desc(), col(TimeEntry.id).desc())
            .limit(page.limit)
            .offset(page.offset)
        )
    ).all()
    if rows:
        total = int(rows[0][4])
    else:  # past the last page: the window count has no row to ride on
        total = int(await ctx.session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    items = [_read(entry, zone_name, int(corrected), locked) for entry, corrected, zone_name, locked, _ in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


async def _update_entry(ctx: OrgContext, entry_id: uuid.UUID, changes: dict[str, Any]) -> TimeEntry:
    guard.require(ctx, "time_entry:read")
    entry = await _load(ctx, entry_id, for_update=True)
    await _authorize_entry(ctx, entry.project_id, entry.user_id, "update")
    settings = await _settings(ctx)
    await _require_editable(ctx, settings, entry, field="start_at")
    before = _state(entry)
    if changes.get("project_id") not in (None, entry.project_id):
        await _authorize_entry(ctx, changes["project_id"], entry.user_id, "create")

    async def apply() -> None:
        for field, value in changes.items():
            if field in {"project_id", "start_at", "billable"} and value is None:
                continue
            if field == "tags":
                value = _clean_tags(value or [])
            if field in {"start_at", "end_at"} and value is not None:
                value = value.astimezone(UTC)
            setattr(entry, field, value)
        if "end_at" in changes and changes["end_at"] is None and before["end_at"] is not None:
            raise UnprocessableContent("A finished entry cannot be made running again.", extra={"field": "end_at"})
        _validate_times(settings, entry)
        await _require_editable(ctx, settings, entry, field="start_at")  # the new start, too
        if entry.project_id != before["project_id"]:
            await _snapshot_rate(ctx, settings, entry)
        if _state(entry) != before:
            entry.updated_at = utcnow()

    await _write_entry(ctx, entry, apply, new=False)
    if _state(entry) != before:
        await _remember_tags(ctx, entry.tags)
        await audit.record_in(
            ctx,
            action="time_entry.updated",
            resource_type="time_entry",
            resource_id=entry.id,
            before=before,
            after=_state(entry),
        )
    return entry


async def update(ctx: OrgContext, entry_id: uuid.UUID, data: schemas.TimeEntryUpdate) -> schemas.TimeEntryRead:
    return await _read_one(ctx, await _update_entry(ctx, entry_id, data.model_dump(exclude_unset=True)))


async def _delete_entry(ctx: OrgContext, entry_id: uuid.UUID) -> None:
    guard.require(ctx, "time_entry:read")
    entry = await _load(ctx, entry_id, for_update=True)
    await _authorize_entry(ctx, entry.project_id, entry.user_id, "delete")
    await _require_editable(ctx, await _settings(ctx), entry, field="start_at")
    has_corrections = await ctx.session.scalar(
        select(func.count())
        .select_from(TimeEntryCorrection)
        .where(col(TimeEntryCorrection.org_id) == ctx.org_id, col(TimeEntryCorrection.entry_id) == entry.id)
    )
    if has_corrections:
        raise Conflict("This entry has corrections and cannot be deleted.")
    before = _state(entry)
    await ctx.session.delete(entry)
    await ctx.session.flush()
    await audit.record_in(
        ctx, action="time_entry.deleted", resource_type="time_entry", resource_id=entry_id, before=before
    )


async def delete(ctx: OrgContext, entry_id: uuid.UUID) -> None:
    await _delete_entry(ctx, entry_id)


async def _all_or_nothing(
    ctx: OrgContext, ids: Sequence[uuid.UUID], verb: str, one: Callable[[uuid.UUID], Awaitable[object]]
) -> schemas.BulkResult:
    """Apply ``one`` to every id, each in a savepoint; if any fails, raise listing every failure (the
    request's transaction then rolls back, so nothing of the batch is kept)."""
    unique = list(dict.fromkeys(ids))
    errors: list[dict[str, Any]] = []
    for entry_id in unique:
        try:
            async with ctx.session.begin_nested():
                await one(entry_id)
        except ProblemError as exc:
            errors.append({"id": str(entry_id), "status": exc.status, "detail": exc.detail or exc.title, **exc.extra})
    if errors:
        statuses = {error["status"] for error in errors}
        status = statuses.pop() if len(statuses) == 1 else 409
        problem: type[ProblemError] = {403: Forbidden, 404: NotFound, 422: UnprocessableContent}.get(status, Conflict)
        raise problem(
            f"{len(errors)} of {len(unique)} entries could not be {verb}; nothing was changed. "
            f"First: {errors[0]['detail']}",
            extra={"errors": jsonable(errors)},
        )
    return schemas.BulkResult(count=len(unique), ids=unique)


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [jsonable(item) for item in value]
    if isinstance(value, uuid.UUID | datetime | Decimal):
        return str(value)
    return value


async def bulk_update(ctx: OrgContext, data: schemas.BulkUpdate) -> schemas.BulkResult:
    guard.require(ctx, "time_entry:list")
    changes = data.changes.model_dump(exclude_unset=True)

    async def one(entry_id: uuid.UUID) -> None:
        await _update_entry(ctx, entry_id, changes)

    return await _all_or_nothing(ctx, data.ids, "changed", one)


async def bulk_delete(ctx: OrgContext, data: schemas.BulkDelete) -> schemas.BulkResult:
    guard.require(ctx, "time_entry:list")
    return await _all_or_nothing(ctx, data.ids, "deleted", lambda entry_id: _delete_entry(ctx, entry_id))


# --- the running timer -----------------------------------------------------------------------------


async def current_timer(ctx: OrgContext) -> schemas.TimerRead:
    guard.require(ctx, "time_entry:read")
    running = await _running(ctx, ctx.user_id)
    return schemas.TimerRead(running=await _read_one(ctx, running) if running else None)


async def _stop(ctx: OrgContext, entry: TimeEntry, at: datetime) -> None:
    await _authorize_entry(ctx, entry.project_id, entry.user_id, "update")
    settings = await _settings(ctx)
    before = _state(entry)

    async def apply() -> None:
        entry.end_at, entry.updated_at = at, utcnow()
        _validate_times(settings, entry)

    await _write_entry(ctx, entry, apply, new=False)
    await audit.record_in(
        ctx,
        action="time_entry.timer_stopped",
        resource_type="time_entry",
        resource_id=entry.id,
        before=before,
        after=_state(entry),
    )


async def start_timer(ctx: OrgContext, data: schemas.TimerStart) -> schemas.TimeEntryRead:
    """Start a running entry now. Concurrent starts leave exactly one: the partial unique index refuses
    the second, which then answers 409 with the running entry."""
    pctx = await _authorize_entry(ctx, data.project_id, ctx.user_id, "create")
    settings = await _settings(ctx)
    now = utcnow()
    running = await _running(ctx, ctx.user_id, for_update=True)
    if running is not None:
        if not data.stop_running:
            raise Conflict(
                "A timer is already running; stop it first or start with stop_running=true.",
                extra={"running_entry": (await _read_one(ctx, running)).model_dump(mode="json")},
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
        billable=PROJECT_BILLABLE_DEFAULT if data.billable is None else data.billable,
        tags=_clean_tags(data.tags),
        no_overlap=settings.prevent_overlaps,
        source="timer",
        created_by=ctx.user_id,
    )
    _validate_times(settings, entry)
    await _require_editable(ctx, settings, entry, field="start_at")
    await _snapshot_rate(ctx, settings, entry)
    await _write_entry(ctx, entry, new=True)
    await _remember_tags(ctx, entry.tags)
    await audit.record_in(
        ctx, action="time_entry.timer_started", resource_type="time_entry", resource_id=entry.id, after=_state(entry)
    )
    return await _read_one(ctx, entry)


async def stop_timer(ctx: OrgContext) -> schemas.TimeEntryRead:
    guard.require(ctx, "time_entry:read")
    running = await _running(ctx, ctx.user_id, for_update=True)
    if running is None:
        raise NotFound("No timer is running.")
    await _stop(ctx, running, utcnow())
    return await _read_one(ctx, running)


# --- corrections -----------------------------------------------------------------------------------


async def add_correction(
    ctx: OrgContext, entry_id: uuid.UUID, data: schemas.CorrectionCreate
) -> schemas.CorrectionRead:
    """Fix an entry that can no longer be edited (locked period, approved week) without rewriting it."""
    guard.require(ctx, "time_entry:read")
    entry = await _load(ctx, entry_id)
    pctx = await enter_project(ctx, entry.project_id)
    guard.require(pctx, "time_correction:create")
    if entry.duration_seconds is None:
        raise Conflict("A running entry cannot be corrected; stop it first.")
    total = (await _correction_sums(ctx, [entry.id])).get(entry.id, 0)
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
    entry = await _load(ctx, entry_id)
    await _can_read(ctx, entry)
    rows = await ctx.session.scalars(
        select(TimeEntryCorrection)
        .where(col(TimeEntryCorrection.org_id) == ctx.org_id, col(TimeEntryCorrection.entry_id) == entry.id)
        .order_by(col(TimeEntryCorrection.created_at), col(TimeEntryCorrection.id))
    )
    return [_correction_read(c) for c in rows.all()]


# --- settings, lock, rates, zones, tags ------------------------------------------------------------


async def get_settings(ctx: OrgContext) -> schemas.TimeSettingsRead:
    guard.require(ctx, "time_settings:read")
    return _settings_read(await _settings(ctx))


async def _settings_row(ctx: OrgContext) -> TimeSettings:
    await ctx.session.execute(
        insert(TimeSettings)
        .values(**{k: v for k, v in _default_settings(ctx.org_id).model_dump().items() if k != "updated_at"})
        .on_conflict_do_nothing()
    )
    settings = await ctx.session.get(TimeSettings, ctx.org_id, with_for_update=True, populate_existing=True)
    assert settings is not None
    return settings


async def update_settings(ctx: OrgContext, data: schemas.TimeSettingsUpdate) -> schemas.TimeSettingsRead:
    guard.require(ctx, "time_settings:update")
    settings = await _settings_row(ctx)
    before = _settings_state(settings)
    changes = data.model_dump(exclude_unset=True)
    for field, value in changes.items():
        if value is None and field != "default_rate":
            continue
        setattr(settings, field, value)
    if settings.prevent_overlaps != before["prevent_overlaps"]:
        await _apply_overlap_setting(ctx, settings.prevent_overlaps)
    after = _settings_state(settings)
    if after != before:
        settings.updated_at = utcnow()
        await ctx.session.flush()
        await audit.record_in(
            ctx,
            action="time_settings.updated",
            resource_type="time_settings",
            resource_id=ctx.org_id,
            before=before,
            after=after,
        )
    return _settings_read(settings)


async def _apply_overlap_setting(ctx: OrgContext, prevent: bool) -> None:
    """Switching the rule on re-checks every entry against the exclusion constraint."""
    try:
        async with ctx.session.begin_nested():
            await ctx.session.execute(
                sql_update(TimeEntry).where(col(TimeEntry.org_id) == ctx.org_id).values(no_overlap=prevent)
            )
    except IntegrityError:
        raise Conflict(
            "Some people already have overlapping entries; fix them before preventing overlaps.",
            extra={"field": "prevent_overlaps"},
        ) from None


async def get_lock(ctx: OrgContext) -> schemas.TimeLock:
    guard.require(ctx, "time_lock:read")
    return schemas.TimeLock(locked_until=(await _settings(ctx)).locked_until)


async def set_lock(ctx: OrgContext, data: schemas.TimeLock) -> schemas.TimeLock:
    """Move the lock forward (admins), or back (the owner only): both audited."""
    current = (await _settings(ctx, for_update=True)).locked_until
    wanted = data.locked_until.astimezone(UTC) if data.locked_until else None
    backwards = current is not None and (wanted is None or wanted < current)
    guard.require(ctx, "time_lock:rewind" if backwards else "time_lock:update")
    settings = await _settings_row(ctx)
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
    return schemas.TimeLock(locked_until=wanted)


def _rate_read(rate: TimeRate, currency: str) -> schemas.RateRead:
    return schemas.RateRead(
        id=rate.id,
        user_id=rate.user_id,
        project_id=rate.project_id,
        amount=rate.amount,
        currency=currency,
        updated_at=rate.updated_at,
    )


async def list_rates(ctx: OrgContext) -> list[schemas.RateRead]:
    guard.require(ctx, "rate:list")
    settings = await _settings(ctx)
    rows = await ctx.session.scalars(
        select(TimeRate)
        .where(col(TimeRate.org_id) == ctx.org_id)
        .order_by(col(TimeRate.project_id).nulls_first(), col(TimeRate.user_id).nulls_first())
    )
    return [_rate_read(rate, settings.currency) for rate in rows.all()]


async def set_rate(ctx: OrgContext, data: schemas.RateSet) -> schemas.RateRead | None:
    """Affects entries written from now on; past entries keep their snapshot (see recalculate)."""
    guard.require(ctx, "rate:manage")
    if data.user_id is None and data.project_id is None:
        raise UnprocessableContent(
            "Give user_id, project_id or both (the default rate is an organization setting).",
            extra={"field": "user_id"},
        )
    if data.user_id is not None:
        await _require_member(ctx, data.user_id)
    if data.project_id is not None:
        await _project_for(ctx, data.project_id)
    settings = await _settings(ctx)
    rate = await ctx.session.scalar(
        select(TimeRate)
        .where(
            col(TimeRate.org_id) == ctx.org_id,
            col(TimeRate.user_id).is_(None) if data.user_id is None else col(TimeRate.user_id) == data.user_id,
            col(TimeRate.project_id).is_(None)
            if data.project_id is None
            else col(TimeRate.project_id) == data.project_id,
        )
        .with_for_update()
    )
    before = {"amount": str(rate.amount)} if rate else None
    scope = f"{data.user_id or '*'}:{data.project_id or '*'}"
    if data.amount is None:
        if rate is not None:
            await ctx.session.delete(rate)
            await ctx.session.flush()
            await audit.record_in(ctx, action="rate.removed", resource_type="rate", resource_id=scope, before=before)
        return None
    if rate is None:
        rate = TimeRate(org_id=ctx.org_id, user_id=data.user_id, project_id=data.project_id, amount=data.amount)
        ctx.session.add(rate)
    else:
        rate.amount, rate.updated_at = data.amount, utcnow()
    await ctx.session.flush()
    if before != {"amount": str(rate.amount)}:
        await audit.record_in(
            ctx,
            action="rate.set",
            resource_type="rate",
            resource_id=scope,
            before=before,
            after={"amount": str(rate.amount)},
        )
    return _rate_read(rate, settings.currency)


async def recalculate_rates(ctx: OrgContext, data: schemas.RecalculateRates) -> schemas.RecalculateResult:
    """Re-resolve the rate of every entry in a range: a project's lead for their project, org admins for
    anything. Locked entries and those in submitted or approved weeks are skipped and counted."""
    if data.project_id is not None:
        pctx = await _project_for(ctx, data.project_id)
        guard.require(pctx, "team_time:update")
    else:
        guard.require(ctx, "team_time:update")
    if data.to <= data.from_:
        raise UnprocessableContent("'to' must be after 'from'.", extra={"field": "to"})
    settings = await _settings(ctx)
    book = await _rate_book(ctx, settings)
    query = (
        select(TimeEntry)
        .where(
            col(TimeEntry.org_id) == ctx.org_id,
            col(TimeEntry.start_at) >= data.from_,
            col(TimeEntry.start_at) < data.to,
        )
        .with_for_update()
    )
    if data.project_id is not None:
        query = query.where(col(TimeEntry.project_id) == data.project_id)
    if data.user_id is not None:
        query = query.where(col(TimeEntry.user_id) == data.user_id)
    entries = (await ctx.session.scalars(query)).all()
    frozen = await _frozen_weeks(ctx, {e.user_id for e in entries})
    zones = await _zones(ctx, {e.user_id for e in entries})
    examined, changed, skipped = len(entries), 0, 0
    for entry in entries:
        locked = settings.locked_until is not None and entry.start_at < settings.locked_until
        if locked or (entry.user_id, _week_start(entry.start_at, zones[entry.user_id])) in frozen:
            skipped += 1
            continue
        rate = book.resolve(entry.user_id, entry.project_id)
        if (rate, settings.currency) != (entry.rate, entry.currency):
            entry.rate, entry.currency, entry.updated_at = rate, settings.currency, utcnow()
            changed += 1
    await ctx.session.flush()
    result = schemas.RecalculateResult(examined=examined, changed=changed, skipped_locked=skipped)
    await audit.record_in(
        ctx,
        action="time_entry.rates_recalculated",
        resource_type="time_entry",
        resource_id=f"{data.from_.isoformat()}..{data.to.isoformat()}",
        after={**result.model_dump(), "project_id": data.project_id, "user_id": data.user_id},
    )
    return result


async def _frozen_weeks(ctx: OrgContext, user_ids: set[uuid.UUID]) -> set[tuple[uuid.UUID, date]]:
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


def _valid_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnprocessableContent(f"Unknown time zone '{name}'.", extra={"field": "time_zone"}) from None
    return name


async def set_time_zone(ctx: OrgContext, data: schemas.TimeZoneSet) -> schemas.TimeZoneRead:
    """Your own zone (members), or anyone's (org admins). Timesheets are counted in it."""
    target = data.user_id or ctx.user_id
    guard.require(ctx, "time_profile:update" if target == ctx.user_id else "time_settings:update")
    zone = _valid_zone(data.time_zone)
    await _require_member(ctx, target)
    before = await _zone(ctx, target)
    await ctx.session.execute(
        insert(MemberTimeZone)
        .values(org_id=ctx.org_id, user_id=target, time_zone=zone)
        .on_conflict_do_update(index_elements=["org_id", "user_id"], set_={"time_zone": zone, "updated_at": utcnow()})
    )
    if before != zone:
        await audit.record_in(
            ctx,
            action="time_zone.set",
            resource_type="membership",
            resource_id=target,
            before={"time_zone": before},
            after={"time_zone": zone},
        )
    return schemas.TimeZoneRead(user_id=target, time_zone=zone)


async def list_tags(ctx: OrgContext) -> list[schemas.TagRead]:
    guard.require(ctx, "time_tag:list")
    rows = await ctx.session.scalars(
        select(col(TimeTag.name)).where(col(TimeTag.org_id) == ctx.org_id).order_by(col(TimeTag.name))
    )
    return [schemas.TagRead(name=name) for name in rows.all()]


# --- timesheets ------------------------------------------------------------------------------------


def parse_week(week: str) -> date:
    try:
        year, number = week.split("-W")
        return date.fromisocalendar(int(year), int(number), 1)
    except ValueError:
        raise UnprocessableContent(f"'{week}' is not an ISO week such as 2026-W48.", extra={"field": "week"}) from None


def _week_bounds(week_start: date, zone: str) -> tuple[datetime, datetime]:
    tz = ZoneInfo(zone)
    start = datetime.combine(week_start, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(week_start + timedelta(days=7), datetime.min.time(), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


async def _week_entries(ctx: OrgContext, user_id: uuid.UUID, week_start: date, zone: str) -> list[TimeEntry]:
    start, end = _week_bounds(week_start, zone)
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


async def _sheet_read(
    ctx: OrgContext, user_id: uuid.UUID, week_start: date, sheet: Timesheet | None
) -> schemas.TimesheetRead:
    zone = sheet.time_zone if sheet else await _zone(ctx, user_id)
    entries = await _reads(ctx, await _week_entries(ctx, user_id, week_start, zone))
    total = sum(e.corrected_duration_seconds or 0 for e in entries)
    billable = sum(e.corrected_duration_seconds or 0 for e in entries if e.billable)
    return schemas.TimesheetRead(
        id=sheet.id if sheet else None,
        user_id=user_id,
        week=_iso_week(week_start),
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


async def _require_sees_person(ctx: OrgContext, user_id: uuid.UUID, entries: Sequence[TimeEntry]) -> None:
    """Someone else's week: org-wide readers, or a lead of one of its entries' projects."""
    if user_id == ctx.user_id or guard.allowed(ctx, "team_time:read"):
        return
    led = set(await _projects_where(ctx, "team_time:read"))
    if not led.intersection(entry.project_id for entry in entries):
        raise Forbidden("You may read only your own timesheets and those with time on projects you lead.")


async def get_timesheet(ctx: OrgContext, week: str, user_id: uuid.UUID | None) -> schemas.TimesheetRead:
    guard.require(ctx, "timesheet:read")
    person = user_id or ctx.user_id
    week_start = parse_week(week)
    sheet = await _sheet(ctx, person, week_start)
    zone = sheet.time_zone if sheet else await _zone(ctx, person)
    await _require_sees_person(ctx, person, await _week_entries(ctx, person, week_start, zone))
    return await _sheet_read(ctx, person, week_start, sheet)


async def list_timesheets(
    ctx: OrgContext, page: PageParams, status: str | None, user_id: uuid.UUID | None
) -> Page[schemas.TimesheetSummary]:
    """Submitted (and decided) timesheets the caller may see: an approver's queue with ``status=submitted``."""
    guard.require(ctx, "timesheet:read")
    query = select(Timesheet).where(col(Timesheet.org_id) == ctx.org_id)
    if not guard.allowed(ctx, "team_time:read"):
        led = await _projects_where(ctx, "team_time:read")
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
            week=_iso_week(sheet.week_start),
            status=sheet.status,
            submitted_at=sheet.submitted_at,
        )

    return await paginate(
        ctx.session, query, page, item, order_by=[col(Timesheet.week_start).desc(), col(Timesheet.id)], scalars=True
    )


def _sheet_state(sheet: Timesheet) -> dict[str, Any]:
    return {"status": sheet.status, "reason": sheet.reason, "week": _iso_week(sheet.week_start)}


async def submit_timesheet(ctx: OrgContext, data: schemas.TimesheetSubmit) -> schemas.TimesheetRead:
    guard.require(ctx, "timesheet:submit")
    week_start = parse_week(data.week)
    sheet = await _sheet(ctx, ctx.user_id, week_start, for_update=True)
    before = _sheet_state(sheet) if sheet else None
    if sheet is not None and sheet.status in FROZEN_STATUSES:
        raise Conflict(f"This timesheet is already {sheet.status}.", extra={"field": "week"})
    zone = await _zone(ctx, ctx.user_id)
    if any(e.end_at is None for e in await _week_entries(ctx, ctx.user_id, week_start, zone)):
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
    return await _sheet_read(ctx, ctx.user_id, week_start, sheet)


async def _decide(ctx: OrgContext, sheet_id: uuid.UUID, *, allowed_from: tuple[str, ...]) -> Timesheet:
    """Approvers: the leads of every project with time in the week, or an org admin; never its owner."""
    guard.require(ctx, "timesheet:read")
    sheet = await ctx.session.get(Timesheet, (ctx.org_id, sheet_id), with_for_update=True)
    if sheet is None:
        raise NotFound("No such timesheet.")
    if not guard.allowed(ctx, "timesheet:approve"):
        projects = {e.project_id for e in await _week_entries(ctx, sheet.user_id, sheet.week_start, sheet.time_zone)}
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
    led = set() if org_wide else set(await _projects_where(ctx, "timesheet:approve"))
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
            projects = {
                e.project_id for e in await _week_entries(ctx, sheet.user_id, sheet.week_start, sheet.time_zone)
            }
            if not projects or not projects <= led:
                continue
        found.append(
            PendingSheet(
                id=sheet.id,
                user_id=sheet.user_id,
                name=user.display_name or user.username or user.email,
                week=_iso_week(sheet.week_start),
                submitted_at=sheet.submitted_at,
            )
        )
    return found


async def time_zone_of(ctx: OrgContext, user_id: uuid.UUID) -> str:
    """A member's time zone (UTC unless they set one)."""
    return await _zone(ctx, user_id)


async def _transition(
    ctx: OrgContext, sheet_id: uuid.UUID, to: str, allowed_from: tuple[str, ...], reason: str | None = None
) -> schemas.TimesheetRead:
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
    return await _sheet_read(ctx, sheet.user_id, sheet.week_start, sheet)


async def approve_timesheet(ctx: OrgContext, sheet_id: uuid.UUID) -> schemas.TimesheetRead:
    return await _transition(ctx, sheet_id, "approved", ("submitted",))


async def reject_timesheet(
    ctx: OrgContext, sheet_id: uuid.UUID, data: schemas.TimesheetReject
) -> schemas.TimesheetRead:
    return await _transition(ctx, sheet_id, "rejected", ("submitted",), data.reason)


async def reopen_timesheet(ctx: OrgContext, sheet_id: uuid.UUID) -> schemas.TimesheetRead:
    return await _transition(ctx, sheet_id, "reopened", ("submitted", "approved"))


# --- imports ---------------------------------------------------------------------------------------


def _import_read(row: TimeImport) -> schemas.ImportRead:
    return schemas.ImportRead(
        id=row.id,
        source=row.source,
        filename=row.filename,
        dry_run=row.dry_run,
        status=row.status,
        total_rows=row.total_rows,
        done_rows=row.done_rows,
        imported_rows=row.imported_rows,
        duplicate_rows=row.duplicate_rows,
        created_projects=list(row.created_projects),
        errors=list(row.errors),
        created_by=row.created_by,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


async def start_import(ctx: OrgContext, data: schemas.ImportCreate) -> schemas.ImportRead:
    # Imported here to keep the job module (and dramatiq) out of import-time dependencies of the service.
    from backend.core import jobs
    from backend.tracking.importer import file_hash
    from backend.tracking.tasks import run_import

    guard.require(ctx, "time_import:create")
    row = TimeImport(
        org_id=ctx.org_id,
        source=data.source,
        filename=data.filename,
        file_hash=file_hash(data.csv),
        content=data.csv,
        dry_run=data.dry_run,
        may_create_projects=guard.allowed(ctx, "project:create"),
        created_by=ctx.user_id,
    )
    ctx.session.add(row)
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="time_import.started",
        resource_type="time_import",
        resource_id=row.id,
        after={"source": row.source, "filename": row.filename, "dry_run": row.dry_run, "file_hash": row.file_hash},
    )
    jobs.send(run_import, str(ctx.org_id), str(row.id))
    return _import_read(row)


async def get_import(ctx: OrgContext, import_id: uuid.UUID) -> schemas.ImportRead:
    guard.require(ctx, "time_import:read")
    row = await ctx.session.get(TimeImport, (ctx.org_id, import_id))
    if row is None or (row.created_by != ctx.user_id and not guard.allowed(ctx, "team_time:read")):
        raise NotFound("No such import.")
    return _import_read(row)


async def list_imports(ctx: OrgContext, page: PageParams) -> Page[schemas.ImportRead]:
    guard.require(ctx, "time_import:read")
    query = select(TimeImport).where(col(TimeImport.org_id) == ctx.org_id)
    if not guard.allowed(ctx, "team_time:read"):
        query = query.where(col(TimeImport.created_by) == ctx.user_id)
    return await paginate(
        ctx.session,
        query,
        page,
        _import_read,
        order_by=[col(TimeImport.created_at).desc(), col(TimeImport.id)],
        scalars=True,
    )


async def worker_context(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> OrgContext:
    """The importer, acting in a job: their organization role as it stands now (removed means refused)."""
    org = await session.get(Organization, org_id)
    membership = await session.get(Membership, (org_id, user_id))
    user = await session.get(User, user_id)
    if org is None or user is None or membership is None or membership.status != MembershipStatus.ACTIVE:
        raise Forbidden("The person who started this import is no longer a member of the organization.")
    principal = Principal(
        subject=user_id,
        client_id=IMPORT_CLIENT_ID,
        username=user.username,
        email=user.email,
        name=user.display_name,
        realm_roles=frozenset(),
        scopes=frozenset(),
    )
    return OrgContext(
        principal=principal,
        user=UserInfo(
            id=user.id,
            username=user.username,
            email=user.email,
            display_name=user.display_name,
            is_service_account=user.is_service_account,
        ),
        session=session,
        org=OrgInfo(id=org.id, slug=org.slug, name=org.name, archived_at=org.archived_at, created_at=org.created_at),
        role=OrgRole(membership.role),
    )


async def import_row(ctx: OrgContext, row: ImportRow, *, may_create_projects: bool) -> tuple[str, str | None]:
    """Land one export row as an entry, through the same rules as the API; ("duplicate", None) when a
    row with its key was imported before. Returns the name of a project it had to create."""
    exists = await ctx.session.scalar(
        select(col(TimeEntry.id)).where(col(TimeEntry.org_id) == ctx.org_id, col(TimeEntry.import_key) == row.key)
    )
    if exists is not None:
        return "duplicate", None
    person = await ctx.session.scalar(
        select(col(User.id))
        .join(Membership, col(Membership.user_id) == col(User.id))
        .where(
            col(Membership.org_id) == ctx.org_id,
            col(Membership.status) == MembershipStatus.ACTIVE.value,
            func.lower(col(User.email)) == row.email,
        )
    )
    if person is None:
        raise UnprocessableContent(f"No member of this organization has the email address '{row.email}'.")
    project_id = await ctx.session.scalar(
        select(col(Project.id))
        .where(col(Project.org_id) == ctx.org_id, func.lower(col(Project.name)) == row.project.lower())
        .order_by(col(Project.name) == row.project)
    )
    created = None
    if project_id is None:
        if not may_create_projects:
            raise UnprocessableContent(f"No project named '{row.project}', and you may not create projects.")
        project_id = (await projects_service.create_named(ctx, row.project)).id
        created = row.project
    zone = ZoneInfo(await _zone(ctx, person))
    await create_entry(
        ctx,
        schemas.TimeEntryCreate(
            project_id=project_id,
            user_id=None if person == ctx.user_id else person,
            description=row.description,
            start_at=row.start.replace(tzinfo=zone),
            end_at=row.end.replace(tzinfo=zone),
            billable=row.billable,
            tags=row.tags,
        ),
        source="import",
        import_key=row.key,
    )
    return "imported", created
