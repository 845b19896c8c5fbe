"""Reminders: rules per organization (admins), their evaluation by the workers, and each person's
notifications (in-app, and by email through backend/core/mail.py).

The evaluator (``evaluate``; the ``evaluate_reminders`` job, offered by every worker's scheduler each
``reminder_interval_seconds``) looks at every enabled rule and every active member, in the member's own
time zone. A reminder that is due becomes one ``notifications`` row whose key is (organization, rule,
person, period) — the local day, the ISO week, or the running timer — inserted with ``ON CONFLICT DO
NOTHING``; only a row actually inserted queues its email, in the same transaction (the outbox). So a
second evaluation of the same period, or two overlapping runs, send nothing more.

The same evaluation delivers tasks' and events' own ``reminder_at`` (to assignees / attendees), once per
(item, person, reminder time) by the partial unique index ``uq_notifications_item_once``.

The evaluator reads time entries, timesheets, tasks and events with plain SQL on their tables (it only counts rows,
and the tracking domain's models are its own).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.core import audit, mail
from backend.core.db import Database, bind_tenant
from backend.core.errors import NotFound, UnprocessableContent
from backend.core.models import utcnow
from backend.core.pagination import Page, PageParams, paginate
from backend.reminders import schemas
from backend.reminders.models import Notification, NotificationKind, ReminderKind, ReminderMute, ReminderRule
from backend.settings import get_settings
from backend.tenancy import guard
from backend.tenancy.context import OrgContext, UserContext

log = structlog.get_logger(__name__)
_FIELDS = ("kind", "name", "enabled", "local_time", "weekdays", "hours")
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    keep_trailing_newline=True,
)


def _state(rule: ReminderRule) -> dict[str, Any]:
    state = {field: getattr(rule, field) for field in _FIELDS}
    state["local_time"] = rule.local_time.isoformat(timespec="minutes")
    return state


def _read(rule: ReminderRule) -> schemas.RuleRead:
    return schemas.RuleRead.model_validate(rule)


async def _load(ctx: OrgContext, rule_id: uuid.UUID, *, lock: bool = False) -> ReminderRule:
    rule = await ctx.session.get(ReminderRule, (ctx.org_id, rule_id), with_for_update=lock)
    if rule is None:
        raise NotFound("No such reminder rule.")
    return rule


async def create_rule(ctx: OrgContext, data: schemas.RuleCreate) -> schemas.RuleRead:
    guard.require(ctx, "reminder_rule:manage")
    rule = ReminderRule(
        org_id=ctx.org_id,
        kind=data.kind.value,
        name=data.name or data.kind.value.replace("_", " ").capitalize(),
        enabled=data.enabled,
        local_time=data.local_time.replace(second=0, microsecond=0),
        weekdays=list(data.weekdays),
        hours=data.hours,
        created_by=ctx.user_id,
    )
    ctx.session.add(rule)
    await ctx.session.flush()
    await audit.record_in(
        ctx, action="reminder_rule.created", resource_type="reminder_rule", resource_id=rule.id, after=_state(rule)
    )
    return _read(rule)


async def list_rules(ctx: OrgContext, page: PageParams) -> Page[schemas.RuleRead]:
    guard.require(ctx, "reminder_rule:read")
    query = select(ReminderRule).where(col(ReminderRule.org_id) == ctx.org_id)
    order = [col(ReminderRule.created_at), col(ReminderRule.id)]
    return await paginate(ctx.session, query, page, _read, order_by=order, scalars=True)


async def get_rule(ctx: OrgContext, rule_id: uuid.UUID) -> schemas.RuleRead:
    guard.require(ctx, "reminder_rule:read")
    return _read(await _load(ctx, rule_id))


async def update_rule(ctx: OrgContext, rule_id: uuid.UUID, data: schemas.RuleUpdate) -> schemas.RuleRead:
    guard.require(ctx, "reminder_rule:manage")
    rule = await _load(ctx, rule_id, lock=True)
    before = _state(rule)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "hours" in changes and rule.kind != ReminderKind.TIMER_RUNNING:
        raise UnprocessableContent("hours apply to timer_running rules only.", extra={"field": "hours"})
    if "local_time" in changes:
        changes["local_time"] = changes["local_time"].replace(second=0, microsecond=0)
    for field, value in changes.items():
        setattr(rule, field, value)
    after = _state(rule)
    if after != before:
        rule.updated_at = utcnow()
        await ctx.session.flush()
        await audit.record_in(
            ctx,
            action="reminder_rule.updated",
            resource_type="reminder_rule",
            resource_id=rule.id,
            before=before,
            after=after,
        )
    return _read(rule)


async def delete_rule(ctx: OrgContext, rule_id: uuid.UUID) -> None:
    """Removes the rule and the notifications it sent."""
    guard.require(ctx, "reminder_rule:manage")
    rule = await _load(ctx, rule_id, lock=True)
    before = _state(rule)
    await ctx.session.delete(rule)
    await ctx.session.flush()
    await audit.record_in(
        ctx, action="reminder_rule.deleted", resource_type="reminder_rule", resource_id=rule_id, before=before
    )


# Each person's notifications (across their organizations: row-level security shows only their own) ----


def _notification(row: Notification) -> schemas.NotificationRead:
    return schemas.NotificationRead(
        id=row.id,
        org_id=row.org_id,
        kind=NotificationKind(row.kind),
        title=row.title,
        body=row.body,
        link=row.link,
        created_at=row.created_at,
        read_at=row.read_at,
        read=row.read_at is not None,
    )


async def my_notifications(
    ctx: UserContext, page: PageParams, *, unread: bool | None = None
) -> Page[schemas.NotificationRead]:
    query = select(Notification).where(col(Notification.user_id) == ctx.user_id)
    if unread is not None:
        query = query.where(col(Notification.read_at).is_(None) if unread else col(Notification.read_at).is_not(None))
    order = [col(Notification.created_at).desc(), col(Notification.id)]
    return await paginate(ctx.session, query, page, _notification, order_by=order, scalars=True)


async def mark_read(ctx: UserContext, notification_id: uuid.UUID) -> schemas.NotificationRead:
    """Idempotent: a notification read before keeps its first read time."""
    row = await ctx.session.scalar(
        select(Notification).where(col(Notification.id) == notification_id, col(Notification.user_id) == ctx.user_id)
    )
    if row is None:
        raise NotFound("No such notification.")
    if row.read_at is None:
        await ctx.session.execute(
            update(Notification)
            .where(col(Notification.org_id) == row.org_id, col(Notification.id) == row.id)
            .values(read_at=utcnow())
        )
        await ctx.session.refresh(row)
    return _notification(row)


# Each person's mutes in an organization (their own choice; the evaluator honours them) -----------------


async def _muted_kinds(ctx: OrgContext) -> list[NotificationKind]:
    rows = await ctx.session.scalars(
        select(col(ReminderMute.kind)).where(
            col(ReminderMute.org_id) == ctx.org_id, col(ReminderMute.user_id) == ctx.user_id
        )
    )
    return sorted(NotificationKind(kind) for kind in rows)


def _mutes(muted: list[NotificationKind]) -> schemas.MutesRead:
    return schemas.MutesRead(muted=muted, kinds=list(NotificationKind))


async def my_mutes(ctx: OrgContext) -> schemas.MutesRead:
    guard.require(ctx, "reminder_mute:read")
    return _mutes(await _muted_kinds(ctx))


async def set_my_mutes(ctx: OrgContext, data: schemas.MutesSet) -> schemas.MutesRead:
    """Replace the caller's muted kinds in this organization with ``data.muted`` (idempotent)."""
    guard.require(ctx, "reminder_mute:update")
    before = await _muted_kinds(ctx)
    wanted = list(data.muted)
    if wanted == before:
        return _mutes(before)
    await ctx.session.execute(
        delete(ReminderMute).where(
            col(ReminderMute.org_id) == ctx.org_id,
            col(ReminderMute.user_id) == ctx.user_id,
            col(ReminderMute.kind).not_in([kind.value for kind in wanted]),
        )
    )
    if wanted:
        now = utcnow()
        await ctx.session.execute(
            insert(ReminderMute)
            .values(
                [
                    {"org_id": ctx.org_id, "user_id": ctx.user_id, "kind": kind.value, "created_at": now}
                    for kind in wanted
                ]
            )
            .on_conflict_do_nothing(index_elements=["org_id", "user_id", "kind"])
        )
    await audit.record_in(
        ctx,
        action="reminder_mute.updated",
        resource_type="reminder_mute",
        resource_id=ctx.user_id,
        before={"muted": [kind.value for kind in before]},
        after={"muted": [kind.value for kind in wanted]},
    )
    return _mutes(wanted)


async def _muted_in(session: AsyncSession, org_id: uuid.UUID) -> set[tuple[uuid.UUID, str]]:
    """(person, kind) pairs muted in one organization, for the evaluator."""
    rows = await session.execute(
        select(col(ReminderMute.user_id), col(ReminderMute.kind)).where(col(ReminderMute.org_id) == org_id)
    )
    return {(row[0], row[1]) for row in rows}


# The evaluator (the worker's side) -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    user_id: uuid.UUID
    email: str | None
    name: str
    role: str
    zone: ZoneInfo


@dataclass(frozen=True, slots=True)
class Due:
    rule: ReminderRule
    person: Person
    period: str
    title: str
    body: str
    path: str


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _scheduled(rule: ReminderRule, local: datetime) -> bool:
    """On one of the rule's weekdays, from its local time on."""
    return local.isoweekday() in rule.weekdays and local.time() >= rule.local_time


def _day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, datetime.min.time(), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


async def _people(session: AsyncSession, org_id: uuid.UUID) -> list[Person]:
    rows = await session.execute(
        text(
            "SELECT m.user_id, u.email, coalesce(u.display_name, u.username, '') AS name, m.role, z.time_zone"
            " FROM memberships m JOIN users u ON u.id = m.user_id"
            " LEFT JOIN member_time_zones z ON z.org_id = m.org_id AND z.user_id = m.user_id"
            " WHERE m.org_id = :org AND m.status = 'active' AND NOT u.is_service_account"
            " AND u.disabled_at IS NULL"
        ),
        {"org": org_id},
    )
    return [Person(r.user_id, r.email, r.name or "there", r.role, _zone(r.time_zone)) for r in rows]


async def _due(session: AsyncSession, rule: ReminderRule, person: Person, now: datetime) -> Due | None:
    local = now.astimezone(person.zone)
    org = rule.org_id
    timer_page = f"/orgs/{org}/timer"
    if rule.kind == ReminderKind.TIMER_RUNNING:
        entry = (
            await session.execute(
                text(
                    "SELECT id, start_at FROM time_entries WHERE org_id = :org AND user_id = :user"
                    " AND end_at IS NULL AND start_at <= :since"
                ),
                {"org": org, "user": person.user_id, "since": now - timedelta(hours=rule.hours or 1)},
            )
        ).first()
        if entry is None:
            return None
        hours = int((now - entry.start_at).total_seconds() // 3600)
        return Due(
            rule,
            person,
            f"timer:{entry.id}",
            "Your timer is still running",
            f"Your timer has been running for {hours} hours, since "
            f"{entry.start_at.astimezone(person.zone):%A %H:%M}. Stop it, or correct the entry if you forgot it.",
            timer_page,
        )
    if person.role == "auditor" or not _scheduled(rule, local):  # auditors read; they log no time
        return None
    if rule.kind == ReminderKind.NO_TIME_LOGGED:
        start, end = _day_bounds(local.date(), person.zone)
        logged = await session.scalar(
            text(
                "SELECT EXISTS (SELECT 1 FROM time_entries WHERE org_id = :org AND user_id = :user"
                " AND start_at < :end AND coalesce(end_at, 'infinity') > :start)"
            ),
            {"org": org, "user": person.user_id, "start": start, "end": end},
        )
        if logged:
            return None
        return Due(
            rule,
            person,
            local.date().isoformat(),
            "No time logged today",
            f"You have not logged any time today ({local:%A %d %B}). Add your entries before you forget them.",
            timer_page,
        )
    if rule.kind == ReminderKind.TIMESHEET_NOT_SUBMITTED:
        week = local.date() - timedelta(days=local.weekday() + 7)
        submitted = await session.scalar(
            text(
                "SELECT EXISTS (SELECT 1 FROM timesheets WHERE org_id = :org AND user_id = :user"
                " AND week_start = :week AND status IN ('submitted', 'approved'))"
            ),
            {"org": org, "user": person.user_id, "week": week},
        )
        if submitted:
            return None
        year, number, _ = week.isocalendar()
        return Due(
            rule,
            person,
            f"{year}-W{number:02d}",
            "Last week's timesheet is not submitted",
            f"Your timesheet for the week of {week:%d %B} ({year}-W{number:02d}) is not submitted yet.",
            f"/orgs/{org}/timesheet",
        )
    # approval_waiting: the organization's approvers (owners and admins)
    if person.role not in ("owner", "admin"):
        return None
    waiting = await session.scalar(
        text("SELECT count(*) FROM timesheets WHERE org_id = :org AND status = 'submitted' AND user_id <> :user"),
        {"org": org, "user": person.user_id},
    )
    if not waiting:
        return None
    return Due(
        rule,
        person,
        local.date().isoformat(),
        "Timesheets are waiting for approval",
        f"{waiting} submitted timesheet{'s' if waiting != 1 else ''} wait for your decision.",
        f"/orgs/{org}/timesheet",
    )


def render(due: Due, org_name: str, link: str, settings_link: str = "") -> tuple[str, str]:
    values = {
        "name": due.person.name,
        "body": due.body,
        "link": link,
        "org_name": org_name,
        "rule_name": due.rule.name,
        "settings_link": settings_link,  # the reminders page, where the person mutes this kind
    }
    return (
        _templates.get_template("reminder.txt.j2").render(values),
        _templates.get_template("reminder.html.j2").render(values),
    )


# Item reminders: a task's or an event's own reminder_at -------------------------------------------

# A reminder older than this when first seen (the workers were down, or it was set in the past) is
# not sent: a day-old "in 10 minutes" helps nobody.
ITEM_REMINDER_WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class ItemDue:
    kind: NotificationKind
    item_key: str
    at: datetime
    person: Person
    title: str
    body: str
    path: str


async def _item_reminders(
    session: AsyncSession, org_id: uuid.UUID, people: list[Person], now: datetime
) -> list[ItemDue]:
    """Tasks (open, not deleted) to their assignees; events to their attendees who did not decline."""
    by_id = {person.user_id: person for person in people}
    since = now - ITEM_REMINDER_WINDOW
    params = {"org": org_id, "now": now, "since": since}
    found: list[ItemDue] = []
    tasks = await session.execute(
        text(
            "SELECT t.id, t.project_id, t.title, t.due_date, t.reminder_at, a.user_id, p.key"
            " FROM tasks t JOIN task_assignees a ON a.org_id = t.org_id AND a.task_id = t.id"
            " JOIN projects p ON p.org_id = t.org_id AND p.id = t.project_id"
            " WHERE t.org_id = :org AND t.reminder_at <= :now AND t.reminder_at > :since"
            " AND t.deleted_at IS NULL AND t.status <> 'done'"
        ),
        params,
    )
    for row in tasks:
        person = by_id.get(row.user_id)
        if person is None:
            continue
        due = f" It is due {row.due_date:%A %d %B}." if row.due_date else ""
        found.append(
            ItemDue(
                NotificationKind.TASK_REMINDER,
                f"task:{row.id}",
                row.reminder_at,
                person,
                f"Reminder: {row.title}"[:300],
                f"A reminder for the task “{row.title}”.{due}",
                f"/orgs/{org_id}/projects/{row.project_id}/tasks/{row.id}",
            )
        )
    # Through app_due_event_reminders (migration 0039): with no person bound, row-level security hides
    # private events; the function gives their reminders to their attendees (not cancelled, not declined).
    events = await session.execute(
        text(
            "SELECT id, title, starts_at, location, reminder_at, user_id"
            " FROM app_due_event_reminders(CAST(:now AS timestamptz), CAST(:since AS timestamptz))"
        ),
        {"now": now, "since": since},
    )
    for row in events:
        person = by_id.get(row.user_id)
        if person is None:
            continue
        where = f" ({row.location})" if row.location else ""
        found.append(
            ItemDue(
                NotificationKind.EVENT_REMINDER,
                f"event:{row.id}",
                row.reminder_at,
                person,
                f"Reminder: {row.title}"[:300],
                f"“{row.title}”{where} starts {row.starts_at.astimezone(person.zone):%A %d %B at %H:%M (%Z)}.",
                f"/orgs/{org_id}",
            )
        )
    return found


def render_item(due: ItemDue, org_name: str, link: str) -> tuple[str, str]:
    values = {
        "name": due.person.name,
        "body": due.body,
        "link": link,
        "org_name": org_name,
        "item": "task" if due.kind == NotificationKind.TASK_REMINDER else "event",
    }
    return (
        _templates.get_template("item_reminder.txt.j2").render(values),
        _templates.get_template("item_reminder.html.j2").render(values),
    )


async def _deliver_items(
    session: AsyncSession, org_id: uuid.UUID, org_name: str, people: list[Person], now: datetime, base: str
) -> int:
    sent = 0
    muted = await _muted_in(session, org_id)
    for due in await _item_reminders(session, org_id, people, now):
        if (due.person.user_id, due.kind.value) in muted:
            continue
        await bind_tenant(session, org_id=org_id, user_id=due.person.user_id)
        link = base + due.path
        made = await session.scalar(
            insert(Notification)
            .values(
                org_id=org_id,
                id=uuid.uuid4(),
                user_id=due.person.user_id,
                rule_id=None,
                item_key=due.item_key,
                kind=due.kind.value,
                period=due.at.astimezone(UTC).isoformat(),
                title=due.title,
                body=due.body,
                link=link,
                emailed=due.person.email is not None,
                created_at=now,
            )
            .on_conflict_do_nothing(
                index_elements=["org_id", "item_key", "user_id", "period"], index_where=text("item_key IS NOT NULL")
            )
            .returning(col(Notification.id))
        )
        if made is None:
            continue
        sent += 1
        if due.person.email:
            plain, html = render_item(due, org_name, link)
            mail.enqueue(due.person.email, f"{due.title} · {org_name}", plain, html)
        log.info("item_reminder_sent", org_id=str(org_id), item=due.item_key)
    await bind_tenant(session, org_id=org_id, user_id=None)
    return sent


async def evaluate_org(db: Database, org_id: uuid.UUID, *, now: datetime | None = None) -> int:
    """Send what is due in one organization (its rules' reminders and its items' own reminders);
    returns how many notifications were new."""
    now = now or utcnow()
    base = (get_settings().web_base_url or "http://localhost:8000").rstrip("/")
    sent = 0
    async with db.unit_of_work(org_id=org_id) as session:
        rules = (
            await session.scalars(
                select(ReminderRule).where(col(ReminderRule.org_id) == org_id, col(ReminderRule.enabled).is_(True))
            )
        ).all()
        org_name = await session.scalar(text("SELECT name FROM organizations WHERE id = :org"), {"org": org_id})
        people = await _people(session, org_id)
        sent += await _deliver_items(session, org_id, str(org_name), people, now, base)
        muted = await _muted_in(session, org_id)  # a person's own mutes: neither mail nor notification
        found = [
            due
            for rule in rules
            for person in people
            if (person.user_id, rule.kind) not in muted and (due := await _due(session, rule, person, now))
        ]
        for due in found:
            # The row is the person's: bind them too (the notifications policy), then back to the org only.
            await bind_tenant(session, org_id=org_id, user_id=due.person.user_id)
            link = base + due.path
            made = await session.scalar(
                insert(Notification)
                .values(
                    org_id=org_id,
                    id=uuid.uuid4(),
                    user_id=due.person.user_id,
                    rule_id=due.rule.id,
                    kind=due.rule.kind,
                    period=due.period,
                    title=due.title,
                    body=due.body,
                    link=link,
                    emailed=due.person.email is not None,
                    created_at=now,
                )
                .on_conflict_do_nothing(constraint="uq_notifications_once")
                .returning(col(Notification.id))
            )
            if made is None:
                continue
            sent += 1
            if due.person.email:
                plain, html = render(due, str(org_name), link, f"{base}/orgs/{org_id}/reminders")
                mail.enqueue(due.person.email, f"{due.title} · {org_name}", plain, html)
            log.info("reminder_sent", org_id=str(org_id), rule_id=str(due.rule.id), kind=due.rule.kind)
        await bind_tenant(session, org_id=org_id, user_id=None)
    return sent


async def evaluate(db: Database, *, now: datetime | None = None) -> dict[str, int]:
    """Every organization with an enabled rule (read through the owner's maintenance policy)."""
    import asyncpg

    settings = get_settings()
    owner = await asyncpg.connect(settings.database_owner_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        now_at = now or utcnow()
        orgs = [
            row["org_id"]
            for row in await owner.fetch(
                "SELECT org_id FROM reminder_rules WHERE enabled"
                " UNION SELECT org_id FROM tasks WHERE reminder_at <= $1 AND reminder_at > $2 AND deleted_at IS NULL"
                " UNION SELECT org_id FROM events WHERE reminder_at <= $1 AND reminder_at > $2",
                now_at,
                now_at - ITEM_REMINDER_WINDOW,
            )
        ]
    finally:
        await owner.close()
    counts = {"organizations": len(orgs), "sent": 0}
    for org_id in orgs:
        try:
            counts["sent"] += await evaluate_org(db, org_id, now=now)
        except Exception as exc:  # one organization's failure must not hold back the others
            log.warning("reminder_evaluation_failed", org_id=str(org_id), error=f"{type(exc).__name__}: {exc}"[:300])
    log.info("reminder_evaluation", **counts)
    return counts
