"""Time entries: log, read, list, change and delete them (one at a time or all-or-nothing in bulk),
with the rules on their times, overlaps and tags. The rules are described in docs/time-tracking.md."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import TextClause, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from backend.core import audit
from backend.core.errors import Conflict, Forbidden, NotFound, ProblemError, UnprocessableContent
from backend.core.models import utcnow
from backend.core.pagination import Page, PageParams
from backend.tenancy import guard
from backend.tenancy.context import OrgContext
from backend.tracking import schemas
from backend.tracking.access import (
    authorize_entry,
    billable_default,
    load_entry,
    projects_where,
    require_member,
    require_readable,
    require_task_on,
)
from backend.tracking.locks import require_editable
from backend.tracking.models import (
    TimeEntry,
    TimeEntryCorrection,
    TimeSettings,
    TimeTag,
)
from backend.tracking.rates import snapshot_rate
from backend.tracking.reads import announce, entry_read, entry_read_one, entry_state
from backend.tracking.time_settings import load_settings
from backend.tracking.zones import UTC_ZONE


def validate_times(settings: TimeSettings, entry: TimeEntry) -> None:
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


async def running_entry(ctx: OrgContext, user_id: uuid.UUID, *, for_update: bool = False) -> TimeEntry | None:
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


# One writer of a person's entries at a time, queued on a transaction-level advisory lock per person
# (released at commit or rollback, and by rolling back the savepoint it was taken in). Concurrent inserts
# that collide on the overlap exclusion constraint (two timer starts, say) otherwise wait on each other's
# index entries and deadlock; queued, the second one meets the first's committed row and gets its 409.
# A writer takes its people's locks before it locks any entry row, several people in uuid order, so two
# writers never hold what the other waits for.
_LOCK_PEOPLE = text(
    "SELECT pg_advisory_xact_lock(hashtextextended('time_entries:' || CAST(:org AS text) || ':' || person, 0))"
    " FROM unnest(CAST(:people AS text[])) AS person"
)
_LOCK_ENTRY_OWNERS = text(
    "SELECT pg_advisory_xact_lock(hashtextextended('time_entries:' || CAST(:org AS text) || ':' || owner, 0))"
    " FROM (SELECT DISTINCT CAST(user_id AS text) AS owner, user_id FROM time_entries"
    " WHERE org_id = CAST(:org AS uuid) AND id = ANY(CAST(:ids AS uuid[])) ORDER BY user_id) AS owners"
)


async def lock_people(ctx: OrgContext, people: Iterable[uuid.UUID]) -> None:
    """Queue behind any other writer of these people's entries (call before locking their rows)."""
    ordered = [str(person) for person in sorted(set(people))]
    if ordered:
        await ctx.session.execute(_LOCK_PEOPLE, {"org": str(ctx.org_id), "people": ordered})


async def lock_entry_owners(ctx: OrgContext, entry_ids: Sequence[uuid.UUID]) -> None:
    """``lock_people`` for the people whose entries these are, in one round trip."""
    if entry_ids:
        await ctx.session.execute(_LOCK_ENTRY_OWNERS, {"org": str(ctx.org_id), "ids": list(entry_ids)})


async def write_entry(
    ctx: OrgContext,
    entry: TimeEntry,
    mutate: Callable[[], Awaitable[None]] | None = None,
    *,
    new: bool,
    person_locked: bool = False,
) -> None:
    """Apply ``mutate`` and write the entry in a savepoint (opened before any change, since opening one
    flushes); the database's constraints become 409s naming the other entry. ``person_locked``: the
    caller holds the entry's person lock already (``lock_people``)."""
    span: _Span | None = None
    if not person_locked:
        await lock_people(ctx, [entry.user_id])
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
            running = await running_entry(ctx, span.user_id)
            raise Conflict(
                "A timer is already running; stop it first or start with stop_running=true.",
                extra={
                    "running_entry": (await entry_read_one(ctx, running)).model_dump(mode="json") if running else None
                },
            ) from None
        if "ex_time_entries_no_overlap" in message:
            other = await _overlapping(ctx, span)
            raise Conflict(
                "This entry overlaps another of the same person's entries."
                + (f" It overlaps entry {other.id}." if other else ""),
                extra={
                    "field": "start_at",
                    "conflicting_entry": (await entry_read_one(ctx, other)).model_dump(mode="json") if other else None,
                },
            ) from None
        if (
            "fk_time_entries_org_id_project_id_task_id_tasks" in message
        ):  # the task was removed or moved since it was checked
            raise UnprocessableContent("No such task on the entry's project.", extra={"field": "task_id"}) from None
        if "uq_time_entries_org_id_import_key" in message:
            raise Conflict("This row was imported before.", extra={"field": "import_key"}) from None
        raise


async def remember_tags(ctx: OrgContext, tags: Iterable[str]) -> None:
    names = sorted(set(tags))
    if names:
        await ctx.session.execute(
            insert(TimeTag).values([{"org_id": ctx.org_id, "name": name} for name in names]).on_conflict_do_nothing()
        )


def clean_tags(tags: Iterable[str]) -> list[str]:
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
    pctx = await authorize_entry(ctx, data.project_id, owner, "create")
    if owner != ctx.user_id:
        await require_member(pctx, owner)
    settings = await load_settings(ctx)
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
        billable=await billable_default(pctx) if data.billable is None else data.billable,
        tags=clean_tags(data.tags),
        no_overlap=settings.prevent_overlaps,
        source=source,
        import_key=import_key,
        created_by=ctx.user_id,
    )
    validate_times(settings, entry)
    await require_editable(ctx, settings, entry, field="start_at")
    await require_task_on(pctx, entry.task_id)
    await snapshot_rate(ctx, settings, entry)
    await write_entry(ctx, entry, new=True)
    await remember_tags(ctx, entry.tags)
    if audited:
        await audit.record_in(
            ctx, action="time_entry.created", resource_type="time_entry", resource_id=entry.id, after=entry_state(entry)
        )
    announce("time_entry.created", entry)
    return entry


async def create(ctx: OrgContext, data: schemas.TimeEntryCreate) -> schemas.TimeEntryRead:
    return await entry_read_one(ctx, await create_entry(ctx, data))


async def get(ctx: OrgContext, entry_id: uuid.UUID) -> schemas.TimeEntryRead:
    guard.require(ctx, "time_entry:read")
    entry = await load_entry(ctx, entry_id)
    await require_readable(ctx, entry)
    return await entry_read_one(ctx, entry)


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


# The list's statement, written once per filter shape (which filters are set, and whose entries the
# caller sees): building and hashing a SQLAlchemy select for every request cost more Python than the
# page's rows (``make bench``, the week list against its bare SQL).
_LIST_COLUMNS = ", ".join(f"e.{column.name}" for column in TimeEntry.__table__.columns)  # type: ignore[attr-defined]
_FILTER_SQL = {
    "from_": "e.start_at >= :from_",
    "to": "e.start_at < :to",
    "user_id": "e.user_id = :user_id",
    "project_id": "e.project_id = :project_id",
    "task_id": "e.task_id = :task_id",
    "billable": "e.billable = :billable",
    "tag": "e.tags @> ARRAY[CAST(:tag AS varchar)]",
}
_VISIBLE_SQL = {
    "all": "TRUE",  # org-wide readers (admins, auditors)
    "own": "e.user_id = :me",
    "own_or_led": "(e.user_id = :me OR e.project_id = ANY(CAST(:led AS uuid[])))",
}


@functools.cache
def _list_statements(filters: tuple[str, ...], running: bool | None, visible: str) -> tuple[TextClause, TextClause]:
    """(the page with its window total, the bare count for a page past the last) for one shape."""
    clauses = ["e.org_id = :org", *(_FILTER_SQL[name] for name in filters), _VISIBLE_SQL[visible]]
    if running is not None:
        clauses.append("e.end_at IS NULL" if running else "e.end_at IS NOT NULL")
    where = " AND ".join(clauses)
    page = text(
        f"SELECT {_LIST_COLUMNS},"
        " coalesce((SELECT sum(c.duration_delta_seconds) FROM time_entry_corrections c"
        "  WHERE c.org_id = e.org_id AND c.entry_id = e.id), 0) AS corrected,"
        f" coalesce((SELECT z.time_zone FROM member_time_zones z"
        f"  WHERE z.org_id = e.org_id AND z.user_id = e.user_id), '{UTC_ZONE}') AS zone_name,"
        " (SELECT s.locked_until FROM time_settings s WHERE s.org_id = :org) AS locked_until,"
        " count(*) OVER () AS total"
        f" FROM time_entries e WHERE {where}"
        " ORDER BY e.start_at DESC, e.id DESC LIMIT :limit OFFSET :offset"
    )
    return page, text(f"SELECT count(*) FROM time_entries e WHERE {where}")


async def list_entries(ctx: OrgContext, page: PageParams, filters: EntryFilters) -> Page[schemas.TimeEntryRead]:
    """One query for the page, its total (a window count), each entry's corrections, its person's time
    zone and the period lock: a week's list is BEGIN, the context, this query and COMMIT. Everyone's
    entries for org-wide readers (admins, auditors); otherwise your own and those on the projects you lead."""
    guard.require(ctx, "time_entry:list")
    params: dict[str, Any] = {"org": ctx.org_id, "limit": page.limit, "offset": page.offset}
    if guard.allowed(ctx, "team_time:read"):
        visible = "all"
    else:
        led = await projects_where(ctx, "team_time:read")
        visible = "own_or_led" if led else "own"
        params |= {"me": ctx.user_id, "led": list(led)}
    given = {name: getattr(filters, name) for name in _FILTER_SQL if getattr(filters, name) is not None}
    page_sql, count_sql = _list_statements(tuple(given), filters.running, visible)
    params |= given
    rows = (await ctx.session.execute(page_sql, params)).all()
    # Past the last page, the window count has no row to ride on.
    total = rows[0].total if rows else await ctx.session.scalar(count_sql, params)
    items = [entry_read(row, row.zone_name, int(row.corrected), row.locked_until) for row in rows]
    return Page(items=items, total=int(total or 0), limit=page.limit, offset=page.offset)


async def _update_entry(ctx: OrgContext, entry_id: uuid.UUID, changes: dict[str, Any]) -> TimeEntry:
    guard.require(ctx, "time_entry:read")
    await lock_entry_owners(ctx, [entry_id])
    entry = await load_entry(ctx, entry_id, for_update=True)
    pctx = await authorize_entry(ctx, entry.project_id, entry.user_id, "update")
    settings = await load_settings(ctx)
    await require_editable(ctx, settings, entry, field="start_at")
    before = entry_state(entry)
    if changes.get("project_id") not in (None, entry.project_id):
        pctx = await authorize_entry(ctx, changes["project_id"], entry.user_id, "create")

    async def apply() -> None:
        for field, value in changes.items():
            if field in {"project_id", "start_at", "billable"} and value is None:
                continue
            if field == "tags":
                value = clean_tags(value or [])
            if field in {"start_at", "end_at"} and value is not None:
                value = value.astimezone(UTC)
            setattr(entry, field, value)
        if "end_at" in changes and changes["end_at"] is None and before["end_at"] is not None:
            raise UnprocessableContent("A finished entry cannot be made running again.", extra={"field": "end_at"})
        validate_times(settings, entry)
        await require_editable(ctx, settings, entry, field="start_at")  # the new start, too
        if (entry.task_id, entry.project_id) != (before["task_id"], before["project_id"]):
            await require_task_on(pctx, entry.task_id)  # a task stays with its project
        if entry.project_id != before["project_id"]:
            await snapshot_rate(ctx, settings, entry)
        if entry_state(entry) != before:
            entry.updated_at = utcnow()

    await write_entry(ctx, entry, apply, new=False, person_locked=True)
    if entry_state(entry) != before:
        await remember_tags(ctx, entry.tags)
        await audit.record_in(
            ctx,
            action="time_entry.updated",
            resource_type="time_entry",
            resource_id=entry.id,
            before=before,
            after=entry_state(entry),
        )
        announce("time_entry.updated", entry)
    return entry


async def update(ctx: OrgContext, entry_id: uuid.UUID, data: schemas.TimeEntryUpdate) -> schemas.TimeEntryRead:
    return await entry_read_one(ctx, await _update_entry(ctx, entry_id, data.model_dump(exclude_unset=True)))


async def _delete_entry(ctx: OrgContext, entry_id: uuid.UUID) -> None:
    guard.require(ctx, "time_entry:read")
    await lock_entry_owners(ctx, [entry_id])
    entry = await load_entry(ctx, entry_id, for_update=True)
    await authorize_entry(ctx, entry.project_id, entry.user_id, "delete")
    await require_editable(ctx, await load_settings(ctx), entry, field="start_at")
    has_corrections = await ctx.session.scalar(
        select(func.count())
        .select_from(TimeEntryCorrection)
        .where(col(TimeEntryCorrection.org_id) == ctx.org_id, col(TimeEntryCorrection.entry_id) == entry.id)
    )
    if has_corrections:
        raise Conflict("This entry has corrections and cannot be deleted.")
    before = entry_state(entry)
    announce("time_entry.deleted", entry)  # read before the delete; rolls back with it
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
    request's transaction then rolls back, so nothing of the batch is kept). Every person concerned is
    locked first, in one order, so two batches over the same people queue instead of deadlocking."""
    unique = list(dict.fromkeys(ids))
    await lock_entry_owners(ctx, unique)
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


async def list_tags(ctx: OrgContext) -> list[schemas.TagRead]:
    guard.require(ctx, "time_tag:list")
    rows = await ctx.session.scalars(
        select(col(TimeTag.name)).where(col(TimeTag.org_id) == ctx.org_id).order_by(col(TimeTag.name))
    )
    return [schemas.TagRead(name=name) for name in rows.all()]
