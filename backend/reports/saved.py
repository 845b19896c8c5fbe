"""Saved reports and their public share links (docs/reports.md "Saved and shared reports").

A saved report is a name and a :class:`~backend.reports.schemas.TimeReportQuery` (the very schema
``GET /reports/time`` reads its query string with). It belongs to the person who saved it; ``shared``
makes it visible to the organization. Running one always computes live figures through
:func:`~backend.reports.service.run_time_query` *as the caller*, so a shared report shows each viewer what
their own scope allows.

A share link is ``wtrep_`` + 32 random bytes (base64url); only its SHA-256 digest is stored, with an
expiry (at most ``LINK_MAX_DAYS``) and a revocation stamp. The public route resolves it through
``app_shared_report`` (migration 0031), which binds the link's organization and creator, and the
report runs as that creator (their scope as it stands, and only while they may still share). Every view
is an audit event in the organization. Unknown, revoked and expired links, a creator who left or lost
the right to share, all answer the same 404.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, or_

from backend.core import audit
from backend.core.errors import Forbidden, NotFound, UnprocessableContent
from backend.core.models import utcnow
from backend.reports import schemas, service
from backend.reports.models import ReportShareLink, SavedReport
from backend.tenancy import guard
from backend.tenancy.context import OrgContext
from backend.tracking import service as tracking

LIST, CREATE, SHARE, MANAGE = "saved_report:list", "saved_report:create", "saved_report:share", "saved_report:manage"
TOKEN_PREFIX = "wtrep_"
_RESOLVE = text("SELECT link_id, org_id, saved_report_id, created_by FROM app_shared_report(:digest)")


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def link_url(base_url: str, token: str) -> str:
    """The page a person opens (the web app renders the figures); ``api_url`` is the same view as JSON."""
    return f"{base_url.rstrip('/')}/shared/{token}"


def api_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/api/v1/shared-reports/{token}"


def _read(row: SavedReport) -> schemas.SavedReportRead:
    return schemas.SavedReportRead(
        id=row.id,
        name=row.name,
        query=schemas.TimeReportQuery.model_validate(row.query),
        shared=row.shared,
        owner_id=row.owner_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _stored(query: schemas.TimeReportQuery) -> dict[str, Any]:
    return query.model_dump(mode="json", by_alias=True, exclude_defaults=True)


def _link_read(link: ReportShareLink) -> schemas.ShareLinkRead:
    return schemas.ShareLinkRead(
        id=link.id,
        saved_report_id=link.saved_report_id,
        hint=link.hint,
        created_by=link.created_by,
        created_at=link.created_at,
        expires_at=link.expires_at,
        revoked_at=link.revoked_at,
        last_viewed_at=link.last_viewed_at,
        views=link.views,
    )


async def _check_references(ctx: OrgContext, query: schemas.TimeReportQuery) -> None:
    """Every project, client and person the query names exists in this organization (else a 422 naming them)."""
    checks = (
        ("project_id", query.project_id, "SELECT id FROM projects WHERE org_id = :org AND id = ANY(:ids)"),
        ("client_id", query.client_id, "SELECT id FROM clients WHERE org_id = :org AND id = ANY(:ids)"),
        ("user_id", query.user_id, "SELECT user_id FROM memberships WHERE org_id = :org AND user_id = ANY(:ids)"),
    )
    for field, ids, sql in checks:
        if not ids:
            continue
        found = set((await ctx.session.scalars(text(sql), {"org": ctx.org_id, "ids": list(ids)})).all())
        unknown = sorted(str(i) for i in ids if i not in found)
        if unknown:
            raise UnprocessableContent(
                f"No such {field.removesuffix('_id').replace('user', 'member')} in this organization: "
                f"{', '.join(unknown)}.",
                extra={"field": f"query.{field}", "unknown": unknown},
            )


async def _visible(ctx: OrgContext, report_id: uuid.UUID, *, lock: bool = False) -> SavedReport:
    """A saved report the caller may see (theirs, shared, or any for saved_report:manage); else a 404."""
    query = select(SavedReport).where(col(SavedReport.org_id) == ctx.org_id, col(SavedReport.id) == report_id)
    if lock:
        query = query.with_for_update()
    row = (await ctx.session.scalars(query)).first()
    if row is None or not (row.owner_id == ctx.user_id or row.shared or guard.allowed(ctx, MANAGE)):
        raise NotFound("No such saved report.")
    return row


def _require_owner(ctx: OrgContext, row: SavedReport) -> None:
    if row.owner_id != ctx.user_id and not guard.allowed(ctx, MANAGE):
        raise Forbidden("Only its owner (or an admin) changes a saved report.", permission=MANAGE)


async def list_reports(ctx: OrgContext) -> list[schemas.SavedReportRead]:
    guard.require(ctx, LIST)
    query = select(SavedReport).where(col(SavedReport.org_id) == ctx.org_id)
    if not guard.allowed(ctx, MANAGE):
        query = query.where(or_(col(SavedReport.owner_id) == ctx.user_id, col(SavedReport.shared).is_(True)))
    rows = (await ctx.session.scalars(query.order_by(col(SavedReport.name), col(SavedReport.id)))).all()
    return [_read(row) for row in rows]


async def get_report(ctx: OrgContext, report_id: uuid.UUID) -> schemas.SavedReportRead:
    guard.require(ctx, LIST)
    return _read(await _visible(ctx, report_id))


async def create_report(ctx: OrgContext, data: schemas.SavedReportCreate) -> schemas.SavedReportRead:
    guard.require(ctx, CREATE)
    await _check_references(ctx, data.query)
    row = SavedReport(
        org_id=ctx.org_id, owner_id=ctx.user_id, name=data.name, query=_stored(data.query), shared=data.shared
    )
    ctx.session.add(row)
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="saved_report.created",
        resource_type="saved_report",
        resource_id=row.id,
        after={"name": row.name, "query": row.query, "shared": row.shared},
    )
    return _read(row)


async def update_report(
    ctx: OrgContext, report_id: uuid.UUID, data: schemas.SavedReportUpdate
) -> schemas.SavedReportRead:
    guard.require(ctx, CREATE)
    row = await _visible(ctx, report_id, lock=True)
    _require_owner(ctx, row)
    before = {"name": row.name, "query": row.query, "shared": row.shared}
    if data.query is not None:
        await _check_references(ctx, data.query)
        row.query = _stored(data.query)
    if data.name is not None:
        row.name = data.name
    if data.shared is not None:
        row.shared = data.shared
    after = {"name": row.name, "query": row.query, "shared": row.shared}
    if after != before:
        row.updated_at = utcnow()
        await ctx.session.flush()
        await audit.record_in(
            ctx, action="saved_report.updated", resource_type="saved_report", resource_id=row.id, before=before,
            after=after,
        )  # fmt: skip
    return _read(row)


async def delete_report(ctx: OrgContext, report_id: uuid.UUID) -> None:
    """Deletes the report and its share links (they stop working at once)."""
    guard.require(ctx, CREATE)
    row = await _visible(ctx, report_id, lock=True)
    _require_owner(ctx, row)
    await ctx.session.delete(row)
    await ctx.session.flush()
    await audit.record_in(
        ctx, action="saved_report.deleted", resource_type="saved_report", resource_id=row.id,
        before={"name": row.name, "query": row.query, "shared": row.shared},
    )  # fmt: skip


async def run_report(ctx: OrgContext, report_id: uuid.UUID) -> schemas.SavedReportResult:
    """The saved query's live figures, computed for the caller (their scope)."""
    guard.require(ctx, LIST)
    row = await _visible(ctx, report_id)
    report = await service.run_time_query(ctx, schemas.TimeReportQuery.model_validate(row.query))
    return schemas.SavedReportResult(saved_report_id=row.id, name=row.name, report=report)


# --- share links ------------------------------------------------------------------------------------


async def list_links(ctx: OrgContext, report_id: uuid.UUID) -> list[schemas.ShareLinkRead]:
    """The report's links, for its owner and admins (a read: it works in an archived organization too)."""
    guard.require(ctx, LIST)
    row = await _visible(ctx, report_id)
    _require_owner(ctx, row)
    links = (
        await ctx.session.scalars(
            select(ReportShareLink)
            .where(col(ReportShareLink.org_id) == ctx.org_id, col(ReportShareLink.saved_report_id) == row.id)
            .order_by(col(ReportShareLink.created_at).desc())
        )
    ).all()
    return [_link_read(link) for link in links]


async def create_link(
    ctx: OrgContext, report_id: uuid.UUID, data: schemas.ShareLinkCreate, base_url: str
) -> schemas.ShareLinkCreated:
    """A new read-only public link; its secret is in this answer only."""
    guard.require(ctx, SHARE)
    row = await _visible(ctx, report_id)
    _require_owner(ctx, row)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    link = ReportShareLink(
        org_id=ctx.org_id,
        saved_report_id=row.id,
        token_hash=digest(token),
        hint=token[-4:],
        created_by=ctx.user_id,
        created_at=now,
        expires_at=now + timedelta(days=data.expires_in_days),
    )
    ctx.session.add(link)
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="saved_report.link_created",
        resource_type="report_share_link",
        resource_id=link.id,
        after={"saved_report_id": str(row.id), "expires_at": link.expires_at.isoformat(), "hint": link.hint},
    )
    return schemas.ShareLinkCreated(
        **_link_read(link).model_dump(), token=token, url=link_url(base_url, token), api_url=api_url(base_url, token)
    )


async def revoke_link(ctx: OrgContext, report_id: uuid.UUID, link_id: uuid.UUID) -> None:
    """Revoked links stop working at once; revoking twice changes nothing."""
    guard.require(ctx, SHARE)
    row = await _visible(ctx, report_id)
    link = await ctx.session.get(ReportShareLink, (ctx.org_id, link_id), with_for_update=True)
    if link is None or link.saved_report_id != row.id:
        raise NotFound("No such share link.")
    if link.created_by != ctx.user_id:
        _require_owner(ctx, row)
    if link.revoked_at is not None:
        return
    link.revoked_at = utcnow()
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="saved_report.link_revoked",
        resource_type="report_share_link",
        resource_id=link.id,
        before={"revoked_at": None},
        after={"revoked_at": link.revoked_at.isoformat()},
    )


async def shared_view(session: AsyncSession, token: str) -> schemas.SharedReport | None:
    """What the public link ``token`` shows, or None (unknown, revoked, expired, or its creator may no
    longer share). ``session`` is a fresh transaction with no tenant bound; the resolver binds the link's
    organization and creator, and the view is audited in that organization."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    found = (await session.execute(_RESOLVE, {"digest": digest(token)})).first()
    if found is None:
        return None
    link = await session.get(ReportShareLink, (found.org_id, found.link_id), with_for_update=True)
    row = await session.get(SavedReport, (found.org_id, found.saved_report_id))
    if link is None or row is None:
        return None
    ctx = await tracking.worker_context(session, found.org_id, found.created_by)
    if not guard.allowed(ctx, SHARE) or not guard.allowed(ctx, "report:read"):
        return None
    if not (row.owner_id == ctx.user_id or row.shared or guard.allowed(ctx, MANAGE)):
        return None  # the report was unshared since: its creator could no longer see it either
    try:
        report = await service.run_time_query(ctx, schemas.TimeReportQuery.model_validate(row.query))
    except Forbidden:  # e.g. the query asks for the organization's figures and the creator lost them
        return None
    groups = await _named_people(session, report.groups)
    link.views += 1
    link.last_viewed_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        org_id=found.org_id,
        actor=None,
        action="saved_report.link_viewed",
        resource_type="report_share_link",
        resource_id=link.id,
        after={"saved_report_id": str(row.id), "views": link.views},
    )
    return schemas.SharedReport(
        name=row.name,
        period_start=report.period_start,
        period_end=report.period_end,
        time_zone=report.time_zone,
        group_by=report.group_by,
        groups=groups,
        totals=report.totals,
        expires_at=link.expires_at,
    )


async def _named_people(session: AsyncSession, groups: list[schemas.Group]) -> list[schemas.Group]:
    """People's groups labelled by their display name only (a report labels a person without one by their
    username or email, which a public link must not show): null when they have none."""
    ids: set[uuid.UUID] = set()

    def collect(items: list[schemas.Group]) -> None:
        for group in items:
            if group.by == "user" and group.key is not None:
                ids.add(uuid.UUID(group.key))
            collect(group.groups)

    collect(groups)
    names: dict[str, str | None] = {}
    if ids:
        rows = await session.execute(
            text("SELECT id, display_name FROM users WHERE id = ANY(:ids)"), {"ids": sorted(ids)}
        )
        names = {str(r.id): r.display_name for r in rows}

    def relabel(items: list[schemas.Group]) -> list[schemas.Group]:
        return [
            group.model_copy(
                update={
                    "label": names.get(group.key or "") if group.by == "user" else group.label,
                    "groups": relabel(group.groups),
                }
            )
            for group in items
        ]

    return relabel(groups)
