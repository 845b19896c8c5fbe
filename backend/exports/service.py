"""Exports: requested over the API, made by a worker (backend/exports/tasks.py), downloaded with the
bearer token or a short-lived signed link. The rows are the reports' rows, under the same scope."""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from backend.core import audit, jobs
from backend.core.errors import Conflict, NotFound, UnprocessableContent
from backend.core.pagination import Page, PageParams, paginate
from backend.exports import schemas, signing
from backend.exports.models import Export, ExportSettings, SigningKey
from backend.orgs import service as orgs
from backend.reports import service as reports
from backend.settings import get_settings
from backend.tenancy import guard
from backend.tenancy.context import OrgContext

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def read(export: Export) -> schemas.ExportRead:
    total = export.total_rows
    percent = 100.0 if export.status == "done" else (round(100.0 * export.done_rows / total, 1) if total else 0.0)
    return schemas.ExportRead(
        id=export.id,
        kind=export.kind,
        format=export.format,
        status=export.status,
        progress=schemas.Progress(rows_done=export.done_rows, rows_total=total, percent=percent),
        filters=export.filters,
        time_zone=export.time_zone,
        period_start=export.period_start,
        period_end=export.period_end,
        error=export.error,
        sha256=export.sha256,
        size_bytes=export.size_bytes,
        manifest=export.manifest,
        requested_by=export.requested_by,
        created_at=export.created_at,
        finished_at=export.finished_at,
        expires_at=export.expires_at,
    )


def filters_of(data: schemas.ExportCreate) -> reports.Filters:
    return reports.Filters(
        projects=data.project_ids,
        users=data.user_ids,
        clients=data.client_ids,
        tags=data.tags,
        billable=data.billable,
        approval=data.approval,
    )


def _audit_filters(data: schemas.ExportCreate) -> dict[str, Any]:
    if data.format != "csv":
        raise UnprocessableContent("The audit trail is exported as CSV only.", extra={"field": "format"})
    time_filters = (data.project_ids, data.user_ids, data.client_ids, data.tags, data.approval)
    if any(time_filters) or data.billable is not None:
        raise UnprocessableContent(
            "An audit export takes actor_user_id, action, resource_type and resource_id, not time filters.",
            extra={"field": "kind"},
        )
    wanted = orgs.AuditFilters(data.actor_user_id, data.action, data.resource_type, data.resource_id)
    return wanted.describe()


async def create(ctx: OrgContext, data: schemas.ExportCreate) -> schemas.ExportRead:
    guard.require(ctx, "export:create")
    if data.kind == "audit":
        guard.require(ctx, "audit:read")
        filters = _audit_filters(data)
    else:
        filters = filters_of(data).describe()
    zone = reports.valid_zone(data.time_zone)
    reports.period(data.from_, data.to, zone)  # validates the range
    export = Export(
        org_id=ctx.org_id,
        kind=data.kind,
        format=data.format,
        filters=filters,
        time_zone=zone,
        period_start=data.from_,
        period_end=data.to,
        requested_by=ctx.user_id,
    )
    ctx.session.add(export)
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="export.requested",
        resource_type="export",
        resource_id=export.id,
        after={"kind": export.kind, "format": export.format, "filters": export.filters, "time_zone": zone,
               "from": str(data.from_), "to": str(data.to)},
    )  # fmt: skip
    jobs.send("run_export", str(ctx.org_id), str(export.id))
    return read(export)


async def create_for_schedule(
    ctx: OrgContext, *, kind: str, fmt: str, first: date, last: date, time_zone: str
) -> schemas.ExportRead:
    """An export requested by a schedule (backend/reminders/schedules.py) for the person ``ctx`` acts for."""
    data = schemas.ExportCreate.model_validate(
        {"kind": kind, "format": fmt, "from": first, "to": last, "time_zone": time_zone}
    )
    return await create(ctx, data)


async def _visible(ctx: OrgContext, export_id: uuid.UUID) -> Export:
    export = await ctx.session.get(Export, (ctx.org_id, export_id))
    # Your own exports; org-wide readers (managers up, auditors) see everyone's.
    if export is None or (export.requested_by != ctx.user_id and not guard.allowed(ctx, "team_report:read")):
        raise NotFound("No such export.")
    return export


async def get(ctx: OrgContext, export_id: uuid.UUID) -> schemas.ExportRead:
    guard.require(ctx, "export:read")
    return read(await _visible(ctx, export_id))


async def list_exports(ctx: OrgContext, page: PageParams) -> Page[schemas.ExportRead]:
    guard.require(ctx, "export:list")
    query = select(Export).where(col(Export.org_id) == ctx.org_id)
    if not guard.allowed(ctx, "team_report:read"):
        query = query.where(col(Export.requested_by) == ctx.user_id)
    return await paginate(
        ctx.session, query, page, read, order_by=[col(Export.created_at).desc(), col(Export.id)], scalars=True
    )


def export_path(org_id: uuid.UUID, export_id: uuid.UUID, fmt: str) -> Path:
    return Path(get_settings().export_dir) / str(org_id) / f"{export_id}.{fmt}"


async def download(ctx: OrgContext, export_id: uuid.UUID) -> tuple[Path, str, str]:
    """The finished file: (path, media type, download name)."""
    guard.require(ctx, "export:read")
    export = await _visible(ctx, export_id)
    if export.status != "done" or export.file_name is None:
        raise Conflict(f"This export is {export.status}; there is no file to download.")
    path = export_path(ctx.org_id, export.id, export.format)
    if not path.exists():
        raise Conflict("The export's file is gone (expired or removed); request a new export.")
    return path, MEDIA_TYPES[export.format], export.file_name


async def manifest(ctx: OrgContext, export_id: uuid.UUID) -> dict[str, Any]:
    guard.require(ctx, "export:read")
    export = await _visible(ctx, export_id)
    if export.manifest is None:
        raise Conflict(f"This export is {export.status}; it has no manifest yet.")
    return export.manifest


async def link(ctx: OrgContext, export_id: uuid.UUID, base_url: str) -> schemas.ExportLink:
    """A download link for this export and this person, valid for export_link_seconds (≤ 15 min)."""
    guard.require(ctx, "export:read")
    export = await _visible(ctx, export_id)
    if export.status != "done":
        raise Conflict(f"This export is {export.status}; there is no file to link to.")
    settings = get_settings()
    expires = int(time.time()) + min(settings.export_link_seconds, 900)
    sig = signing.link_signature(settings.export_link_secret, ctx.org_id, export.id, ctx.user_id, expires)
    url = (
        f"{base_url.rstrip('/')}/api/v1/orgs/{ctx.org_id}/exports/{export.id}/download"
        f"?user={ctx.user_id}&expires={expires}&sig={sig}"
    )
    return schemas.ExportLink(url=url, expires_at=datetime.fromtimestamp(expires, UTC))


async def finished(session: AsyncSession, org_id: uuid.UUID, export_id: uuid.UUID) -> schemas.ExportRead | None:
    """A done export as the API shows it (for other domains' follow-ups), or None while it is not done."""
    export = await session.get(Export, (org_id, export_id), populate_existing=True)
    return read(export) if export is not None and export.status == "done" else None


def mail_link(org_id: uuid.UUID, export_id: uuid.UUID, user_id: uuid.UUID, base_url: str) -> schemas.ExportLink:
    """A download link for a mail (a scheduled export's recipient): bound to this export and person, valid
    for ``export_mail_link_seconds``. The download checks the person's membership and permissions again."""
    settings = get_settings()
    expires = int(time.time()) + settings.export_mail_link_seconds
    sig = signing.mail_link_signature(settings.export_link_secret, org_id, export_id, user_id, expires)
    url = (
        f"{base_url.rstrip('/')}/api/v1/orgs/{org_id}/exports/{export_id}/download"
        f"?user={user_id}&expires={expires}&sig={sig}&via=mail"
    )
    return schemas.ExportLink(url=url, expires_at=datetime.fromtimestamp(expires, UTC))


async def signing_key_row(ctx: OrgContext) -> SigningKey:
    """The organization's signing key, made on first use (one per organization; creation is serialized)."""
    return await _key_row(ctx.session, ctx.org_id)


async def _key_row(session: AsyncSession, org_id: uuid.UUID) -> SigningKey:
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('export-key:' || :org))"), {"org": str(org_id)})
    found = (
        await session.scalars(
            select(SigningKey).where(col(SigningKey.org_id) == org_id).order_by(col(SigningKey.created_at))
        )
    ).first()
    if found is not None:
        return found
    made = signing.new_key(get_settings().export_key_secret, org_id)
    row = SigningKey(
        org_id=org_id,
        key_id=made.key_id,
        public_key=made.public_key,
        private_key_encrypted=made.private_key_encrypted,
    )
    session.add(row)
    await session.flush()
    return row


async def sign_statement(session: AsyncSession, org_id: uuid.UUID, statement: dict[str, Any]) -> dict[str, Any]:
    """``statement`` signed with the organization's export signing key (the one its manifests carry), for
    other domains' signed records (the audit chain's anchors). Runs inside the caller's unit of work."""
    row = await _key_row(session, org_id)
    private = signing.unseal(get_settings().export_key_secret, org_id, row.private_key_encrypted)
    return signing.sign(statement, private, row.key_id)


async def statement_signature_problem(
    session: AsyncSession, org_id: uuid.UUID, statement: dict[str, Any]
) -> str | None:
    """Why ``statement`` is not signed by one of the organization's keys, or None when it is. The key
    embedded in the statement must be the organization's key of that id: a statement re-signed with
    some other key does not pass."""
    signature = statement.get("signature")
    if not isinstance(signature, dict):
        return "it carries no signature"
    public = await session.scalar(
        select(SigningKey.public_key).where(
            col(SigningKey.org_id) == org_id, col(SigningKey.key_id) == str(signature.get("key_id"))
        )
    )
    if public is None:
        return f"it is signed by key {signature.get('key_id')!r}, which is not this organization's"
    if signature.get("public_key") != base64.b64encode(public).decode():
        return "the public key it carries is not the organization's key of that id"
    if not signing.signature_valid(statement, public):
        return "its signature is NOT valid: the statement was changed after signing"
    return None


async def signing_key(ctx: OrgContext) -> schemas.SigningKeyRead:
    guard.require(ctx, "export:read")
    row = await signing_key_row(ctx)
    return schemas.SigningKeyRead(
        key_id=row.key_id,
        algorithm="Ed25519",
        public_key=base64.b64encode(row.public_key).decode(),
        public_key_pem=signing.public_pem(row.public_key),
    )


async def retention_hours(session: AsyncSession, org_id: uuid.UUID) -> tuple[int, bool]:
    """The organization's retention in hours, and whether it is the server's default."""
    own = await session.scalar(select(ExportSettings.retention_hours).where(col(ExportSettings.org_id) == org_id))
    return (get_settings().export_retention_hours, True) if own is None else (own, False)


async def get_settings_of(ctx: OrgContext) -> schemas.ExportSettingsRead:
    guard.require(ctx, "export_settings:read")
    hours, default = await retention_hours(ctx.session, ctx.org_id)
    return schemas.ExportSettingsRead(retention_hours=hours, default=default)


async def update_settings(ctx: OrgContext, data: schemas.ExportSettingsUpdate) -> schemas.ExportSettingsRead:
    """A new retention applies to the files already kept too: each one expires that long after it was made."""
    guard.require(ctx, "export_settings:update")
    before, _ = await retention_hours(ctx.session, ctx.org_id)
    await ctx.session.execute(
        insert(ExportSettings)
        .values(org_id=ctx.org_id, retention_hours=data.retention_hours)
        .on_conflict_do_update(
            index_elements=["org_id"], set_={"retention_hours": data.retention_hours, "updated_at": func.now()}
        )
    )
    await ctx.session.execute(
        update(Export)
        .where(col(Export.org_id) == ctx.org_id, col(Export.status) == "done", col(Export.finished_at).is_not(None))
        .values(expires_at=col(Export.finished_at) + timedelta(hours=data.retention_hours))
    )
    await audit.record_in(
        ctx,
        action="export_settings.updated",
        resource_type="export_settings",
        resource_id=ctx.org_id,
        before={"retention_hours": before},
        after={"retention_hours": data.retention_hours},
    )
    return schemas.ExportSettingsRead(retention_hours=data.retention_hours, default=False)
