"""An organization's time settings (currency, default rate, limits on an entry's times, overlaps,
the lock): defaults until an admin first changes one."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from backend.core import audit
from backend.core.errors import Conflict
from backend.core.models import utcnow
from backend.tenancy import guard
from backend.tenancy.context import OrgContext
from backend.tracking import schemas
from backend.tracking.models import (
    ALL_WEEKDAYS,
    DEFAULT_CURRENCY,
    DEFAULT_MAX_DURATION_MINUTES,
    DEFAULT_MAX_FUTURE_MINUTES,
    TimeEntry,
    TimeSettings,
)


def default_settings(org_id: uuid.UUID) -> TimeSettings:
    return TimeSettings(
        org_id=org_id,
        currency=DEFAULT_CURRENCY,
        default_rate=None,
        max_duration_minutes=DEFAULT_MAX_DURATION_MINUTES,
        max_future_minutes=DEFAULT_MAX_FUTURE_MINUTES,
        prevent_overlaps=True,
        locked_until=None,
        rounding_mode="none",
        rounding_minutes=1,
        rounding_weekdays=list(ALL_WEEKDAYS),
    )


async def load_settings(ctx: OrgContext, *, for_update: bool = False) -> TimeSettings:
    found = await ctx.session.get(TimeSettings, ctx.org_id, with_for_update=for_update)
    return found if found is not None else default_settings(ctx.org_id)


def settings_read(settings: TimeSettings) -> schemas.TimeSettingsRead:
    return schemas.TimeSettingsRead(
        currency=settings.currency,
        default_rate=settings.default_rate,
        max_duration_minutes=settings.max_duration_minutes,
        max_future_minutes=settings.max_future_minutes,
        prevent_overlaps=settings.prevent_overlaps,
        locked_until=settings.locked_until,
        rounding=rounding_of(settings),
    )


async def rounding_rule(ctx: OrgContext) -> dict[str, Any]:
    """The rounding rule in force (for an export's manifest), read in the caller's transaction."""
    return rounding_of(await load_settings(ctx)).model_dump()


def rounding_of(settings: TimeSettings) -> schemas.Rounding:
    return schemas.Rounding(
        mode=cast("schemas.RoundingMode", settings.rounding_mode),  # the column's check keeps it a mode
        minutes=settings.rounding_minutes,
        weekdays=list(settings.rounding_weekdays),
    )


def settings_state(settings: TimeSettings) -> dict[str, Any]:
    return settings_read(settings).model_dump()


async def get_settings(ctx: OrgContext) -> schemas.TimeSettingsRead:
    guard.require(ctx, "time_settings:read")
    return settings_read(await load_settings(ctx))


async def settings_row(ctx: OrgContext) -> TimeSettings:
    await ctx.session.execute(
        insert(TimeSettings)
        .values(**{k: v for k, v in default_settings(ctx.org_id).model_dump().items() if k != "updated_at"})
        .on_conflict_do_nothing()
    )
    settings = await ctx.session.get(TimeSettings, ctx.org_id, with_for_update=True, populate_existing=True)
    assert settings is not None
    return settings


async def update_settings(ctx: OrgContext, data: schemas.TimeSettingsUpdate) -> schemas.TimeSettingsRead:
    guard.require(ctx, "time_settings:update")
    settings = await settings_row(ctx)
    before = settings_state(settings)
    changes = data.model_dump(exclude_unset=True)
    changes.pop("rounding", None)
    if data.rounding is not None:  # the rule is set whole: what it leaves out takes the default
        settings.rounding_mode = data.rounding.mode
        settings.rounding_minutes = data.rounding.minutes
        settings.rounding_weekdays = list(data.rounding.weekdays)
    for field, value in changes.items():
        if value is None and field != "default_rate":
            continue
        setattr(settings, field, value)
    if settings.prevent_overlaps != before["prevent_overlaps"]:
        await _apply_overlap_setting(ctx, settings.prevent_overlaps)
    after = settings_state(settings)
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
    return settings_read(settings)


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
