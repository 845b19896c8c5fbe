"""Billable rates, resolved org default -> member -> project -> member on project, snapshotted on the
entry when it is written; only an explicit recalculation over a date range changes them afterwards."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, or_, select
from sqlmodel import col

from backend.core import audit
from backend.core.errors import UnprocessableContent
from backend.core.models import utcnow
from backend.tenancy import guard
from backend.tenancy.context import OrgContext
from backend.tracking import schemas
from backend.tracking.access import project_for, require_member
from backend.tracking.locks import frozen_weeks
from backend.tracking.models import (
    TimeEntry,
    TimeRate,
    TimeSettings,
)
from backend.tracking.time_settings import load_settings
from backend.tracking.zones import week_of, zones_of


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


async def rate_book(ctx: OrgContext, settings: TimeSettings) -> RateBook:
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


async def snapshot_rate(ctx: OrgContext, settings: TimeSettings, entry: TimeEntry) -> None:
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
    settings = await load_settings(ctx)
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
        await require_member(ctx, data.user_id)
    if data.project_id is not None:
        await project_for(ctx, data.project_id)
    settings = await load_settings(ctx)
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
        pctx = await project_for(ctx, data.project_id)
        guard.require(pctx, "team_time:update")
    else:
        guard.require(ctx, "team_time:update")
    if data.to <= data.from_:
        raise UnprocessableContent("'to' must be after 'from'.", extra={"field": "to"})
    settings = await load_settings(ctx)
    book = await rate_book(ctx, settings)
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
    frozen = await frozen_weeks(ctx, {e.user_id for e in entries})
    zones = await zones_of(ctx, {e.user_id for e in entries})
    examined, changed, skipped = len(entries), 0, 0
    for entry in entries:
        locked = settings.locked_until is not None and entry.start_at < settings.locked_until
        if locked or (entry.user_id, week_of(entry.start_at, zones[entry.user_id])) in frozen:
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
