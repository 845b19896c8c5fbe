from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import FileResponse

from backend.core.db import Database
from backend.core.errors import NotAuthenticated
from backend.core.pagination import Page, Paging
from backend.core.validation import CanonicalUUID
from backend.exports import schemas, service, signing
from backend.settings import Settings
from backend.tenancy.context import CurrentOrg, OrgContext, OrgId, org_scope
from backend.tracking import service as tracking

router = APIRouter(prefix="/orgs/{org_id}/exports", tags=["exports"])


@router.post("", status_code=status.HTTP_202_ACCEPTED, summary="Request an export (CSV, PDF or XLSX), made by a worker")
async def create_export(ctx: CurrentOrg, data: schemas.ExportCreate) -> schemas.ExportRead:
    return await service.create(ctx, data)


@router.get("", summary="Exports: yours, or everyone's for managers up and auditors")
async def list_exports(ctx: CurrentOrg, page: Paging) -> Page[schemas.ExportRead]:
    return await service.list_exports(ctx, page)


@router.get("/signing-key", summary="The organization's Ed25519 public key that signs export manifests")
async def signing_key(ctx: CurrentOrg) -> schemas.SigningKeyRead:
    return await service.signing_key(ctx)


@router.get("/settings", summary="How long finished export files are kept in this organization")
async def read_export_settings(ctx: CurrentOrg) -> schemas.ExportSettingsRead:
    return await service.get_settings_of(ctx)


@router.put("/settings", summary="Set the organization's export retention (applies to files already kept)")
async def update_export_settings(ctx: CurrentOrg, data: schemas.ExportSettingsUpdate) -> schemas.ExportSettingsRead:
    return await service.update_settings(ctx, data)


@router.get("/{export_id}", summary="An export's state and progress (rows done / total)")
async def read_export(ctx: CurrentOrg, export_id: CanonicalUUID) -> schemas.ExportRead:
    return await service.get(ctx, export_id)


@router.get("/{export_id}/manifest", summary="The signed manifest of a finished export")
async def read_manifest(ctx: CurrentOrg, export_id: CanonicalUUID) -> dict[str, Any]:
    return await service.manifest(ctx, export_id)


@router.get("/{export_id}/link", summary="A signed download link (15 minutes, for you and this export)")
async def create_link(ctx: CurrentOrg, export_id: CanonicalUUID, request: Request) -> schemas.ExportLink:
    return await service.link(ctx, export_id, str(request.base_url))


async def _download_scope(
    request: Request,
    org_id: OrgId,
    export_id: CanonicalUUID,
    user: Annotated[uuid.UUID | None, Query(description="Signed link: the person it was made for")] = None,
    expires: Annotated[int | None, Query(description="Signed link: expiry, Unix seconds")] = None,
    sig: Annotated[str | None, Query(description="Signed link: HMAC")] = None,
    via: Annotated[
        Literal["mail"] | None, Query(description="Signed link: `mail` for a mailed link (its own lifetime)")
    ] = None,
) -> AsyncIterator[OrgContext]:
    """The bearer token's caller, or — for a signed link — the person the link was made for, whose
    membership and permissions are checked again now (a link outlives no removal)."""
    if sig is None or "authorization" in request.headers:
        async for ctx in org_scope(request, org_id):
            yield ctx
        return
    settings: Settings = request.app.state.settings
    secret, now = settings.export_link_secret, time.time()
    if (
        user is None
        or expires is None
        or not (
            signing.mail_link_valid(
                secret, org_id, export_id, user, expires, sig, now, settings.export_mail_link_seconds
            )
            if via == "mail"
            else signing.link_valid(secret, org_id, export_id, user, expires, sig, now)
        )
    ):
        raise NotAuthenticated("This download link is invalid or has expired.", error=None)
    db: Database = request.app.state.db
    async with db.unit_of_work(org_id=org_id, user_id=user) as session:
        yield await tracking.worker_context(session, org_id, user)


@router.get(
    "/{export_id}/download",
    summary="The file: with the bearer token, or with a signed link's user, expires and sig",
    response_class=FileResponse,
)
async def download(
    ctx: Annotated[OrgContext, Depends(_download_scope, scope="function")], export_id: CanonicalUUID
) -> FileResponse:
    path, media_type, name = await service.download(ctx, export_id)
    return FileResponse(path, media_type=media_type, filename=name)
