"""Integrations: the connector registry (connectors.py), connector instances with sealed secrets, and
the first connector, a personal iCalendar feed at a secret, revocable URL.

The feed's token is stored twice: Fernet-sealed (so its owner can see their URL again) and as a SHA-256
digest, which ``app_calendar_feed`` looks up before any tenant is bound. Revoking deletes the row;
rotating replaces both. The feed reads through the tracking and calendar services as its owner, so
it never shows more than they could read themselves, and stops working when their membership ends.
"""

from __future__ import annotations

import hashlib
import json
import secrets as random_secrets
from datetime import UTC, timedelta
from typing import Any

from icalendar import Calendar
from icalendar import Event as IcsEvent
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.core import audit, secrets
from backend.core.errors import NotFound
from backend.core.models import utcnow
from backend.core.pagination import PageParams
from backend.events import service as events
from backend.integrations import schemas
from backend.integrations.connectors import ICAL, REGISTRY, IcalConfig
from backend.integrations.models import Integration
from backend.tenancy import guard
from backend.tenancy.context import OrgContext
from backend.tracking import service as tracking

FEED_PREFIX = "wtcal_"
MAX_FEED_ITEMS = 5_000
_RESOLVE = text("SELECT integration_id, org_id, user_id FROM app_calendar_feed(:digest)")


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def list_connectors(ctx: OrgContext) -> list[schemas.ConnectorRead]:
    guard.require(ctx, "organization:read")
    return [
        schemas.ConnectorRead(
            kind=c.kind,
            title=c.title,
            description=c.description,
            personal=c.personal,
            secret_fields=list(c.secret_fields),
            feeds=list(c.feeds),
            actions=list(c.actions),
            config_schema=c.config_schema.model_json_schema(),
        )
        for c in REGISTRY.values()
    ]


def feed_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/api/v1/calendar-feeds/{token}.ics"


async def _my_feed(ctx: OrgContext, *, lock: bool = False) -> Integration | None:
    query = select(Integration).where(
        col(Integration.org_id) == ctx.org_id,
        col(Integration.kind) == ICAL.kind,
        col(Integration.user_id) == ctx.user_id,
    )
    if lock:
        query = query.with_for_update()
    return (await ctx.session.scalars(query)).first()


def _feed_read(feed: Integration, base_url: str) -> schemas.CalendarFeedRead:
    token = json.loads(secrets.open_sealed(feed.secrets_sealed or b""))["token"]
    return schemas.CalendarFeedRead(
        url=feed_url(base_url, token),
        config=IcalConfig.model_validate(feed.config),
        created_at=feed.created_at,
        updated_at=feed.updated_at,
    )


def _new_token(feed: Integration) -> None:
    token = FEED_PREFIX + random_secrets.token_urlsafe(32)
    feed.secrets_sealed = secrets.seal(json.dumps({"token": token}))
    feed.lookup_hash = digest(token)


async def get_feed(ctx: OrgContext, base_url: str) -> schemas.CalendarFeedRead:
    guard.require(ctx, "calendar_feed:read")
    feed = await _my_feed(ctx)
    if feed is None:
        raise NotFound("You have no calendar feed here; create one with PUT.")
    return _feed_read(feed, base_url)


async def put_feed(ctx: OrgContext, data: schemas.CalendarFeedWrite, base_url: str) -> schemas.CalendarFeedRead:
    """Create your feed, or change its settings (its URL stays)."""
    guard.require(ctx, "calendar_feed:manage")
    feed = await _my_feed(ctx, lock=True)
    config = IcalConfig.model_validate(data.model_dump()).model_dump()
    if feed is None:
        feed = Integration(
            org_id=ctx.org_id, kind=ICAL.kind, user_id=ctx.user_id, config=config, created_by=ctx.user_id
        )
        _new_token(feed)
        ctx.session.add(feed)
        await ctx.session.flush()
        await audit.record_in(
            ctx,
            action="integration.created",
            resource_type="integration",
            resource_id=feed.id,
            after={"kind": "ical", **config},
        )
    elif feed.config != config:
        before = dict(feed.config)
        feed.config, feed.updated_at = config, utcnow()
        await ctx.session.flush()
        await audit.record_in(
            ctx,
            action="integration.updated",
            resource_type="integration",
            resource_id=feed.id,
            before=before,
            after=config,
        )
    return _feed_read(feed, base_url)


async def rotate_feed(ctx: OrgContext, base_url: str) -> schemas.CalendarFeedRead:
    """A new secret URL; the old one stops working at once."""
    guard.require(ctx, "calendar_feed:manage")
    feed = await _my_feed(ctx, lock=True)
    if feed is None:
        raise NotFound("You have no calendar feed here.")
    _new_token(feed)
    feed.updated_at = utcnow()
    await ctx.session.flush()
    await audit.record_in(ctx, action="integration.secret_rotated", resource_type="integration", resource_id=feed.id)
    return _feed_read(feed, base_url)


async def revoke_feed(ctx: OrgContext) -> None:
    guard.require(ctx, "calendar_feed:manage")
    feed = await _my_feed(ctx, lock=True)
    if feed is None:
        raise NotFound("You have no calendar feed here.")
    await ctx.session.delete(feed)
    await ctx.session.flush()
    await audit.record_in(
        ctx, action="integration.deleted", resource_type="integration", resource_id=feed.id, before={"kind": "ical"}
    )


async def feed_calendar(session: AsyncSession, token: str) -> bytes | None:
    """The feed behind ``token`` as RFC 5545 text, or None for an unknown or revoked token. The session
    is a fresh transaction with no tenant bound; the resolver binds the feed's organization and person."""
    if not token.startswith(FEED_PREFIX):
        return None
    found = (await session.execute(_RESOLVE, {"digest": digest(token)})).first()
    if found is None:
        return None
    feed = await session.get(Integration, (found.org_id, found.integration_id))
    if feed is None:
        return None
    config = IcalConfig.model_validate(feed.config)
    ctx = await tracking.worker_context(session, found.org_id, found.user_id)
    now = utcnow()
    calendar = Calendar()
    calendar.add("prodid", "-//Worktime//Calendar feed//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", f"Worktime: {ctx.org.name}")
    if config.include_time_entries:
        for entry in await _entries(ctx, now - timedelta(days=config.days_back)):
            if entry.end_at is None:
                continue  # a running timer has no end yet
            item = IcsEvent()
            item.add("uid", f"time-entry-{entry.id}@worktime")
            item.add("dtstamp", entry.updated_at.astimezone(UTC))
            item.add("dtstart", entry.start_at.astimezone(UTC))
            item.add("dtend", entry.end_at.astimezone(UTC))
            item.add("summary", f"Time: {entry.description}" if entry.description else "Time entry")
            item.add("categories", ["Time entry", *entry.tags])
            item.add("transp", "TRANSPARENT")  # logged time does not make you busy in others' eyes
            calendar.add_component(item)
    if config.include_events:
        start = now - timedelta(days=config.days_back)
        end = min(now + timedelta(days=config.days_ahead), start + timedelta(days=366))
        page = await events.occurrences(
            ctx, PageParams(limit=MAX_FEED_ITEMS, offset=0), start=start, end=end, attendee="me"
        )
        for occurrence in page.items:
            item = IcsEvent()
            item.add("uid", f"event-{occurrence.event_id}-{occurrence.starts_at:%Y%m%dT%H%M%SZ}@worktime")
            item.add("dtstamp", now)
            if occurrence.all_day:
                item.add("dtstart", occurrence.starts_at.date())
                item.add("dtend", max(occurrence.ends_at.date(), occurrence.starts_at.date() + timedelta(days=1)))
            else:
                item.add("dtstart", occurrence.starts_at.astimezone(UTC))
                item.add("dtend", occurrence.ends_at.astimezone(UTC))
            item.add("summary", occurrence.title or "Busy")
            item.add("status", occurrence.status.value.upper())  # CONFIRMED, TENTATIVE or CANCELLED (RFC 5545)
            if occurrence.location:
                item.add("location", occurrence.location)
            calendar.add_component(item)
    return bytes(calendar.to_ical())


async def _entries(ctx: OrgContext, since: Any) -> list[Any]:
    found: list[Any] = []
    while len(found) < MAX_FEED_ITEMS:
        page = await tracking.list_entries(
            ctx,
            PageParams(limit=500, offset=len(found)),
            tracking.EntryFilters(from_=since, user_id=ctx.user_id, running=False),
        )
        found.extend(page.items)
        if len(found) >= page.total or not page.items:
            break
    return found


async def reseal_secrets(connection: Any) -> int:
    """``keys rotate``: every connector's secrets under the newest key (owner connection)."""
    return await secrets.reseal_column(connection, "integrations", "secrets_sealed")
