"""Members' time zones and the weeks counted in them (ISO weeks, Monday to Monday local time)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from backend.core import audit
from backend.core.errors import UnprocessableContent
from backend.core.models import utcnow
from backend.tenancy import guard
from backend.tenancy.context import OrgContext
from backend.tracking import schemas
from backend.tracking.access import require_member
from backend.tracking.models import MemberTimeZone

UTC_ZONE = "UTC"


async def zones_of(ctx: OrgContext, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
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


async def zone_of(ctx: OrgContext, user_id: uuid.UUID) -> str:
    return (await zones_of(ctx, [user_id]))[user_id]


def in_zone(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone))


def week_of(moment: datetime, zone: str) -> date:
    local = in_zone(moment, zone).date()
    return local - timedelta(days=local.weekday())


def iso_week(week_start: date) -> str:
    year, week, _ = week_start.isocalendar()
    return f"{year}-W{week:02d}"


def valid_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnprocessableContent(f"Unknown time zone '{name}'.", extra={"field": "time_zone"}) from None
    return name


async def set_time_zone(ctx: OrgContext, data: schemas.TimeZoneSet) -> schemas.TimeZoneRead:
    """Your own zone (members), or anyone's (org admins). Timesheets are counted in it."""
    target = data.user_id or ctx.user_id
    guard.require(ctx, "time_profile:update" if target == ctx.user_id else "time_settings:update")
    zone = valid_zone(data.time_zone)
    await require_member(ctx, target)
    before = await zone_of(ctx, target)
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


def parse_week(week: str) -> date:
    try:
        year, number = week.split("-W")
        return date.fromisocalendar(int(year), int(number), 1)
    except ValueError:
        raise UnprocessableContent(f"'{week}' is not an ISO week such as 2026-W48.", extra={"field": "week"}) from None


def week_bounds(week_start: date, zone: str) -> tuple[datetime, datetime]:
    tz = ZoneInfo(zone)
    start = datetime.combine(week_start, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(week_start + timedelta(days=7), datetime.min.time(), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


async def time_zone_of(ctx: OrgContext, user_id: uuid.UUID) -> str:
    """A member's time zone (UTC unless they set one)."""
    return await zone_of(ctx, user_id)
