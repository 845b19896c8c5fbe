"""Calendar events. A recurring event stores its RRULE and IANA time zone; reads expand the rule with
python-dateutil in that zone (a weekly 09:00 Europe/Berlin meeting stays at 09:00 local across
daylight-saving changes) within the requested window (never unbounded), skipping cancelled occurrences,
and return the occurrences as UTC instants. Every member sees the
organization's calendar; the creator (or an admin) changes an event; attendees answer for themselves.

An event has a status (confirmed, tentative, cancelled: a cancelled one stays listed) and a privacy. A
private event is read only by its creator and its attendees, and changed only by its creator: row-level
security (migration 0039) hides its row and its attendee rows from everyone else, admins and auditors
included, so these queries simply do not find it. The others get it as busy time from
``app_event_busy`` (when, status and who created it; no title, description, location, project or
attendees). Audit records of a private event leave its title, description and location out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule as RRuleSet
from dateutil.rrule import rrulestr
from sqlalchemy import or_, select, text
from sqlmodel import col

from backend.core import audit
from backend.core.errors import Forbidden, NotFound, UnprocessableContent
from backend.core.models import utcnow
from backend.core.pagination import Page, PageParams
from backend.events import schemas
from backend.events.models import Event, EventAttendee, EventCancellation, EventStatus, Privacy, Rsvp
from backend.tenancy import guard
from backend.tenancy.context import OrgContext, enter_project
from backend.tenancy.models import Membership

MAX_WINDOW = timedelta(days=366)
MAX_OCCURRENCES = 5000
_FIELDS = (
    "title", "description", "location", "starts_at", "ends_at", "all_day", "rrule", "timezone", "project_id",
    "reminder_at", "status", "privacy",
)  # fmt: skip
_HIDDEN = ("title", "description", "location")  # a private event's details, never in its audit records
BUSY_SQL = text(
    "SELECT id, starts_at, ends_at, all_day, rrule, timezone, status, created_by, created_at, updated_at"
    " FROM app_event_busy(:from_, :to, :id)"
)


@dataclass(frozen=True, slots=True)
class _Busy:
    """A private event the caller may not read: when it is, its status and who created it."""

    id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    all_day: bool
    rrule: str | None
    timezone: str
    status: str
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


async def _busy(
    ctx: OrgContext, *, start: datetime | None = None, end: datetime | None = None, event_id: uuid.UUID | None = None
) -> list[_Busy]:
    rows = await ctx.session.execute(BUSY_SQL, {"from_": start, "to": end, "id": event_id})
    return [_Busy(**row._mapping) for row in rows]


def parse_rule(rule: str, starts_at: datetime, zone: str = "UTC") -> RRuleSet:
    """The rule anchored at the event's start as wall-clock time in ``zone`` (a zone-aware DTSTART, so
    each occurrence keeps that local time); a 422 naming ``rrule`` when dateutil cannot read it."""
    if "DTSTART" in rule.upper() or "\n" in rule:
        raise UnprocessableContent("Give the RRULE alone; the event's start is its DTSTART.", extra={"field": "rrule"})
    text = rule.removeprefix("RRULE:")
    try:
        parsed = rrulestr(text, dtstart=starts_at.astimezone(ZoneInfo(zone)))
    except (ValueError, TypeError, OverflowError) as exc:
        raise UnprocessableContent(f"The RRULE cannot be read: {exc}", extra={"field": "rrule"}) from None
    if not isinstance(parsed, RRuleSet):
        raise UnprocessableContent("Give one RRULE.", extra={"field": "rrule"})
    return parsed


def _state(event: Event, attendees: list[uuid.UUID]) -> dict[str, Any]:
    return {**{f: getattr(event, f) for f in _FIELDS}, "attendee_ids": sorted(str(a) for a in attendees)}


def _audited(state: dict[str, Any], *, private: bool | None = None) -> dict[str, Any]:
    """The state as the audit trail keeps it: a private event's details stay out (auditors read the trail)."""
    if not (state["privacy"] == Privacy.PRIVATE.value if private is None else private):
        return state
    return {k: ("(private)" if k in _HIDDEN and v is not None else v) for k, v in state.items()}


async def _details(ctx: OrgContext, event: Event) -> schemas.EventRead:
    attendees = (
        await ctx.session.scalars(
            select(EventAttendee).where(col(EventAttendee.event_id) == event.id).order_by(col(EventAttendee.user_id))
        )
    ).all()
    cancelled = (
        await ctx.session.scalars(
            select(col(EventCancellation.occurrence_start))
            .where(col(EventCancellation.event_id) == event.id)
            .order_by(col(EventCancellation.occurrence_start))
        )
    ).all()
    return schemas.EventRead.model_validate(
        {
            **{f: getattr(event, f) for f in _FIELDS},
            "id": event.id,
            "created_by": event.created_by,
            "created_at": event.created_at,
            "updated_at": event.updated_at,
            "attendees": [{"user_id": a.user_id, "rsvp": a.rsvp} for a in attendees],
            "cancelled_occurrences": list(cancelled),
            "busy": False,
        }
    )


async def _busy_details(ctx: OrgContext, busy: _Busy) -> schemas.EventRead:
    cancelled = (
        await ctx.session.scalars(
            select(col(EventCancellation.occurrence_start))
            .where(col(EventCancellation.event_id) == busy.id)
            .order_by(col(EventCancellation.occurrence_start))
        )
    ).all()
    return schemas.EventRead(
        id=busy.id,
        title=None,
        description=None,
        location=None,
        starts_at=busy.starts_at,
        ends_at=busy.ends_at,
        all_day=busy.all_day,
        rrule=busy.rrule,
        timezone=busy.timezone,
        project_id=None,
        status=EventStatus(busy.status),
        privacy=Privacy.PRIVATE,
        busy=True,
        reminder_at=None,
        created_by=busy.created_by,
        attendees=[],
        cancelled_occurrences=list(cancelled),
        created_at=busy.created_at,
        updated_at=busy.updated_at,
    )


async def _check(ctx: OrgContext, values: dict[str, Any], permission: str) -> None:
    """Times, rule, project (the caller must be able to read it; an archived one is read-only)."""
    if values["ends_at"] < values["starts_at"]:
        raise UnprocessableContent("ends_at must not be before starts_at.", extra={"field": "ends_at"})
    if values.get("reminder_at") is not None and values["reminder_at"] >= values["starts_at"]:
        raise UnprocessableContent("reminder_at must be before the event starts.", extra={"field": "reminder_at"})
    if values.get("rrule"):
        parse_rule(values["rrule"], values["starts_at"], values.get("timezone") or "UTC")
    if values.get("project_id") is not None:
        try:
            project_ctx = await enter_project(ctx, values["project_id"])
        except NotFound:
            raise UnprocessableContent("No such project in this organization.", extra={"field": "project_id"}) from None
        guard.require(project_ctx, "project:read")
        guard.require(project_ctx, permission)


async def _check_attendees(ctx: OrgContext, user_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    wanted = list(dict.fromkeys(user_ids))
    if not wanted:
        return []
    members = set(
        (
            await ctx.session.scalars(
                select(col(Membership.user_id)).where(
                    col(Membership.org_id) == ctx.org_id,
                    col(Membership.user_id).in_(wanted),
                    col(Membership.status) == "active",
                )
            )
        ).all()
    )
    refused = [str(u) for u in wanted if u not in members]
    if refused:
        raise UnprocessableContent(
            "Attendees must be members of this organization: " + ", ".join(refused),
            extra={"field": "attendee_ids", "refused": refused},
        )
    return wanted


async def create(ctx: OrgContext, data: schemas.EventCreate) -> schemas.EventRead:
    guard.require(ctx, "event:create")
    values = data.model_dump(exclude={"attendee_ids"})
    await _check(ctx, values, "event:create")
    attendees = await _check_attendees(ctx, data.attendee_ids)
    event = Event(org_id=ctx.org_id, created_by=ctx.user_id, **values)
    ctx.session.add(event)
    await ctx.session.flush()
    ctx.session.add_all(
        EventAttendee(org_id=ctx.org_id, event_id=event.id, user_id=u, event_privacy=event.privacy) for u in attendees
    )
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="event.created",
        resource_type="event",
        resource_id=event.id,
        after=_audited(_state(event, attendees)),
    )
    return await _details(ctx, event)


PRIVATE_REFUSAL = "This event is private: only its creator and attendees see it, and only its creator changes it."


async def _load(ctx: OrgContext, event_id: uuid.UUID, *, lock: bool = False) -> Event:
    event = await ctx.session.get(Event, event_id, with_for_update=lock)
    if event is None or event.org_id != ctx.org_id:
        # FOR UPDATE needs the update policy too: an attendee reads a private event but locks nothing.
        readable = lock and await ctx.session.scalar(select(col(Event.id)).where(col(Event.id) == event_id))
        if readable or await _busy(ctx, event_id=event_id):
            raise Forbidden(PRIVATE_REFUSAL)
        raise NotFound("No such event.")
    return event


async def get(ctx: OrgContext, event_id: uuid.UUID) -> schemas.EventRead:
    """The event; a private one the caller may not read, as busy time."""
    guard.require(ctx, "event:read")
    event = await ctx.session.get(Event, event_id)
    if event is None or event.org_id != ctx.org_id:
        found = await _busy(ctx, event_id=event_id)
        if not found:
            raise NotFound("No such event.")
        return await _busy_details(ctx, found[0])
    return await _details(ctx, event)


@dataclass(frozen=True, slots=True)
class _Listed:
    """What the occurrence expansion needs of an event, readable or busy."""

    id: uuid.UUID
    title: str | None
    starts_at: datetime
    ends_at: datetime
    all_day: bool
    location: str | None
    project_id: uuid.UUID | None
    rrule: str | None
    timezone: str
    status: str
    privacy: str
    created_by: uuid.UUID | None
    busy: bool


async def occurrences(
    ctx: OrgContext,
    page: PageParams,
    *,
    start: datetime,
    end: datetime,
    project_id: uuid.UUID | None = None,
    attendee: str | None = None,
    statuses: list[EventStatus] | None = None,
) -> Page[schemas.OccurrenceRead]:
    """Every occurrence overlapping [start, end), in start order (then event id). Private events the
    caller may not read come as busy time, except when filtering by project or attendee (which they
    do not reveal)."""
    guard.require(ctx, "event:list")
    if start.tzinfo is None or end.tzinfo is None:
        raise UnprocessableContent("from and to need a UTC offset.", extra={"field": "from"})
    if end <= start or end - start > MAX_WINDOW:
        raise UnprocessableContent("The window runs forwards and spans at most 366 days.", extra={"field": "to"})
    query = select(Event).where(
        col(Event.org_id) == ctx.org_id,
        col(Event.starts_at) < end,
        or_(col(Event.rrule).is_not(None), col(Event.ends_at) > start),
    )
    if project_id is not None:
        query = query.where(col(Event.project_id) == project_id)
    if attendee is not None:
        who = ctx.user_id if attendee == "me" else _uuid(attendee, "attendee")
        query = query.where(
            select(EventAttendee)
            .where(col(EventAttendee.event_id) == col(Event.id), col(EventAttendee.user_id) == who)
            .exists()
        )
    if statuses:
        query = query.where(col(Event.status).in_([s.value for s in statuses]))
    events = [
        _Listed(
            e.id, e.title, e.starts_at, e.ends_at, e.all_day, e.location, e.project_id, e.rrule, e.timezone,
            e.status, e.privacy, e.created_by, busy=False,
        )
        for e in (await ctx.session.scalars(query)).all()
    ]  # fmt: skip
    if project_id is None and attendee is None:
        wanted = {s.value for s in statuses} if statuses else None
        events += [
            _Listed(
                b.id, None, b.starts_at, b.ends_at, b.all_day, None, None, b.rrule, b.timezone, b.status,
                Privacy.PRIVATE.value, b.created_by, busy=True,
            )
            for b in await _busy(ctx, start=start, end=end)
            if wanted is None or b.status in wanted
        ]  # fmt: skip
    cancelled: set[tuple[uuid.UUID, datetime]] = set()
    recurring = [e.id for e in events if e.rrule]
    if recurring:
        rows = await ctx.session.execute(
            select(col(EventCancellation.event_id), col(EventCancellation.occurrence_start)).where(
                col(EventCancellation.event_id).in_(recurring)
            )
        )
        cancelled = {(event_id, at.astimezone(UTC)) for event_id, at in rows.all()}
    found: list[schemas.OccurrenceRead] = []
    for event in events:
        duration = event.ends_at - event.starts_at
        if event.rrule:
            rule = parse_rule(event.rrule, event.starts_at, event.timezone)
            # An occurrence that began before the window but is still going overlaps it. The rule yields
            # local times; as UTC instants, adding the duration is elapsed time, not wall-clock time.
            local = rule.between(start.astimezone(UTC) - duration, end.astimezone(UTC), inc=True)
            starts = [s.astimezone(UTC) for s in local]
            starts = [s for s in starts if (s < end and s + duration > start) or s == start]
        else:
            starts = [event.starts_at]
        for at in starts:
            if (event.id, at.astimezone(UTC)) in cancelled:
                continue
            found.append(
                schemas.OccurrenceRead(
                    event_id=event.id,
                    title=event.title,
                    starts_at=at,
                    ends_at=at + duration,
                    all_day=event.all_day,
                    location=event.location,
                    project_id=event.project_id,
                    recurring=event.rrule is not None,
                    status=EventStatus(event.status),
                    privacy=Privacy(event.privacy),
                    busy=event.busy,
                    created_by=event.created_by,
                )
            )
            if len(found) > MAX_OCCURRENCES:
                raise UnprocessableContent(
                    "Too many occurrences in this window; ask for a shorter one.", extra={"field": "to"}
                )
    found.sort(key=lambda o: (o.starts_at, str(o.event_id)))
    return Page(
        items=found[page.offset : page.offset + page.limit], total=len(found), limit=page.limit, offset=page.offset
    )


def _uuid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise UnprocessableContent(f"{field} is 'me' or a user id.", extra={"field": field}) from None


def _may_change(ctx: OrgContext, event: Event) -> None:
    if event.privacy == Privacy.PRIVATE.value and event.created_by != ctx.user_id:
        raise Forbidden(PRIVATE_REFUSAL)
    if event.created_by != ctx.user_id and not guard.allowed(ctx, "event:manage"):
        raise Forbidden("Only its creator or an admin may change an event.")


async def _attendee_ids(ctx: OrgContext, event: Event) -> list[uuid.UUID]:
    return list(
        (
            await ctx.session.scalars(select(col(EventAttendee.user_id)).where(col(EventAttendee.event_id) == event.id))
        ).all()
    )


async def update(ctx: OrgContext, event_id: uuid.UUID, data: schemas.EventUpdate) -> schemas.EventRead:
    guard.require(ctx, "event:update")
    event = await _load(ctx, event_id, lock=True)
    _may_change(ctx, event)
    current = await _attendee_ids(ctx, event)
    before = _state(event, current)
    changes = {
        k: v
        for k, v in data.model_dump(exclude_unset=True).items()
        if not (k in {"title", "starts_at", "ends_at", "all_day", "timezone", "status", "privacy"} and v is None)
    }
    if changes.get("privacy") == Privacy.PRIVATE.value and event.created_by != ctx.user_id:
        raise Forbidden("Only its creator may make an event private.")
    attendees = current
    if "attendee_ids" in changes:
        attendees = await _check_attendees(ctx, changes.pop("attendee_ids") or [])
    values = {**{f: getattr(event, f) for f in _FIELDS}, **changes}
    await _check(ctx, values, "event:update")
    if event.project_id is not None and event.project_id != values["project_id"]:
        await _check(ctx, {**values, "project_id": event.project_id}, "event:update")
    for field, value in changes.items():
        setattr(event, field, value)
    if _state(event, attendees) != before:
        event.updated_at = utcnow()
        # The event first: a changed privacy reaches its attendee rows (ON UPDATE CASCADE) before new ones come.
        await ctx.session.flush()
        for user_id in set(current) - set(attendees):
            link = await ctx.session.get(EventAttendee, (event.id, user_id))
            if link is not None:
                await ctx.session.delete(link)
        ctx.session.add_all(
            EventAttendee(org_id=ctx.org_id, event_id=event.id, user_id=u, event_privacy=event.privacy)
            for u in attendees
            if u not in current
        )
        await ctx.session.flush()
        after = _state(event, attendees)
        private = Privacy.PRIVATE.value in (before["privacy"], after["privacy"])
        await audit.record_in(
            ctx,
            action="event.updated",
            resource_type="event",
            resource_id=event.id,
            before=_audited(before, private=private),
            after=_audited(after, private=private),
        )
    return await _details(ctx, event)


async def delete(ctx: OrgContext, event_id: uuid.UUID) -> None:
    guard.require(ctx, "event:delete")
    event = await _load(ctx, event_id, lock=True)
    _may_change(ctx, event)
    if event.project_id is not None:
        await _check(ctx, {f: getattr(event, f) for f in _FIELDS}, "event:delete")
    before = _audited(_state(event, await _attendee_ids(ctx, event)))
    await ctx.session.delete(event)
    await ctx.session.flush()
    await audit.record_in(ctx, action="event.deleted", resource_type="event", resource_id=event.id, before=before)


async def rsvp(ctx: OrgContext, event_id: uuid.UUID, data: schemas.RsvpWrite) -> schemas.EventRead:
    """The caller answers an invitation to the event (only attendees can)."""
    guard.require(ctx, "event:rsvp")
    event = await _load(ctx, event_id)
    link = await ctx.session.get(EventAttendee, (event.id, ctx.user_id), with_for_update=True)
    if link is None:
        raise Forbidden("You are not invited to this event.")
    if link.rsvp != data.response.value:
        before = {"rsvp": link.rsvp}
        link.rsvp, link.updated_at = data.response.value, utcnow()
        await ctx.session.flush()
        await audit.record_in(
            ctx,
            action="event.rsvp",
            resource_type="event",
            resource_id=event.id,
            before=before,
            after={"rsvp": link.rsvp, "user_id": ctx.user_id},
        )
    return await _details(ctx, event)


async def cancel_occurrence(ctx: OrgContext, event_id: uuid.UUID, data: schemas.CancellationWrite) -> schemas.EventRead:
    """Cancel one occurrence of a recurring event (it must be one the rule produces)."""
    guard.require(ctx, "event:update")
    event = await _load(ctx, event_id, lock=True)
    _may_change(ctx, event)
    if not event.rrule:
        raise UnprocessableContent("Only a recurring event has occurrences to cancel; delete this one.")
    at = data.occurrence_start.astimezone(UTC)
    rule = parse_rule(event.rrule, event.starts_at, event.timezone)
    nearby = rule.between(at - timedelta(seconds=1), at + timedelta(seconds=1), inc=True)
    if at not in [s.astimezone(UTC) for s in nearby]:
        raise UnprocessableContent("No occurrence of this event starts then.", extra={"field": "occurrence_start"})
    if await ctx.session.get(EventCancellation, (event.id, at)) is None:
        ctx.session.add(EventCancellation(org_id=ctx.org_id, event_id=event.id, occurrence_start=at))
        await ctx.session.flush()
        await audit.record_in(
            ctx,
            action="event.occurrence_cancelled",
            resource_type="event",
            resource_id=event.id,
            after={"occurrence": at},
        )
    return await _details(ctx, event)


__all__ = ["Rsvp", "cancel_occurrence", "create", "delete", "get", "occurrences", "rsvp", "update"]
