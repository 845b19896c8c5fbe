from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import FileResponse

from backend.core.conditional import IfMatch, set_etag
from backend.core.db import Database
from backend.core.errors import NotAuthenticated
from backend.core.pagination import Page, Paging
from backend.core.validation import CanonicalUUID
from backend.orgs import offboarding, schemas, service
from backend.settings import Settings
from backend.tenancy.context import CurrentOrg, CurrentUser, CurrentUserTransactions, OrgContext, OrgId, org_scope
from backend.tenancy.directory import CurrentDirectory
from backend.tracking import service as tracking

router = APIRouter(prefix="/orgs", tags=["organizations"])


@router.post("", status_code=status.HTTP_201_CREATED, summary="Found an organization (you become its owner)")
async def create_organization(
    users: CurrentUserTransactions, directory: CurrentDirectory, data: schemas.OrganizationCreate
) -> schemas.OrganizationRead:
    # No request-long transaction: Keycloak's copy is made between the service's short ones.
    return await service.create(users, directory, data)


@router.get("", summary="List the organizations you belong to or are invited to")
async def list_my_organizations(
    ctx: CurrentUser, page: Paging, include_archived: bool = False
) -> Page[schemas.OrganizationRead]:
    return await service.list_mine(ctx, page, include_archived=include_archived)


@router.get("/{org_id}", summary="Read an organization")
async def read_organization(ctx: CurrentOrg, response: Response) -> schemas.OrganizationRead:
    org = await service.get(ctx)
    set_etag(response, org)
    return org


@router.patch("/{org_id}", summary="Rename an organization or change its slug")
async def update_organization(
    ctx: CurrentOrg, data: schemas.OrganizationUpdate, response: Response, if_match: IfMatch = None
) -> schemas.OrganizationRead:
    org = await service.update(ctx, data, if_match=if_match)
    set_etag(response, org)
    return org


@router.put("/{org_id}/security", summary="Require (or stop requiring) a second factor of owners and admins")
async def set_organization_security(ctx: CurrentOrg, data: schemas.OrganizationSecurity) -> schemas.OrganizationRead:
    return await service.set_security(ctx, data)


@router.post("/{org_id}/archive", summary="Archive an organization (read-only afterwards)")
async def archive_organization(ctx: CurrentOrg) -> schemas.OrganizationRead:
    return await service.archive(ctx)


@router.get("/{org_id}/audit-events", summary="Read the organization's audit trail, newest first (filterable)")
async def list_audit_events(
    ctx: CurrentOrg,
    page: Paging,
    actor_user_id: uuid.UUID | None = None,
    action: Annotated[
        str | None, Query(max_length=100, description="An action, or a prefix ending in '.' (time_entry.)")
    ] = None,
    resource_type: Annotated[str | None, Query(max_length=100)] = None,
    resource_id: Annotated[str | None, Query(max_length=200)] = None,
    from_: Annotated[datetime | None, Query(alias="from", description="occurred_at >= from")] = None,
    to: Annotated[datetime | None, Query(description="occurred_at < to")] = None,
) -> Page[schemas.AuditEventRead]:
    filters = service.AuditFilters(actor_user_id, action, resource_type, resource_id, from_, to)
    return await service.list_audit_events(ctx, page, filters)


@router.get("/{org_id}/audit-chain", summary="Verify the organization's audit chain now (its state and head)")
async def verify_audit_chain(ctx: CurrentOrg) -> schemas.AuditChainRead:
    return await service.audit_chain(ctx)


# --- offboarding (backend/orgs/offboarding.py, docs/operations.md "Tenant offboarding") ------------------


@router.get("/{org_id}/offboarding", summary="The organization's scheduled deletion, if any (owner)")
async def read_offboarding(ctx: CurrentOrg) -> schemas.OffboardingRead:
    return await offboarding.status(ctx)


@router.post(
    "/{org_id}/offboarding",
    status_code=status.HTTP_201_CREATED,
    summary="Schedule the organization's deletion after the grace period; it is archived at once (owner)",
)
async def schedule_offboarding(ctx: CurrentOrg) -> schemas.OrgDeletionRead:
    return await offboarding.schedule(ctx)


@router.delete("/{org_id}/offboarding", summary="Cancel the scheduled deletion during the grace period (owner)")
async def cancel_offboarding(ctx: CurrentOrg) -> schemas.OrgDeletionRead:
    return await offboarding.cancel(ctx)


@router.post(
    "/{org_id}/offboarding/export",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Export all of the organization's data (JSON Lines per table, attachments, signed manifest) (owner)",
)
async def request_offboarding_export(ctx: CurrentOrg) -> schemas.OffboardingExportRead:
    return await offboarding.request_export(ctx)


@router.get("/{org_id}/offboarding/exports/{offboarding_export_id}", summary="A full-data export's state and manifest")
async def read_offboarding_export(
    ctx: CurrentOrg, offboarding_export_id: CanonicalUUID
) -> schemas.OffboardingExportRead:
    return await offboarding.get_export(ctx, offboarding_export_id)


@router.get("/{org_id}/offboarding/exports/{offboarding_export_id}/link", summary="A signed download link (15 minutes)")
async def offboarding_export_link(
    ctx: CurrentOrg, offboarding_export_id: CanonicalUUID, request: Request
) -> schemas.OffboardingLink:
    return await offboarding.export_link(ctx, offboarding_export_id, str(request.base_url))


async def _download_scope(
    request: Request,
    org_id: OrgId,
    offboarding_export_id: CanonicalUUID,
    user: Annotated[uuid.UUID | None, Query(description="Signed link: the person it was made for")] = None,
    expires: Annotated[int | None, Query(description="Signed link: expiry, Unix seconds")] = None,
    sig: Annotated[str | None, Query(description="Signed link: HMAC")] = None,
) -> AsyncIterator[OrgContext]:
    """The bearer token's caller, or the signed link's person, whose membership and role are checked again."""
    if sig is None or "authorization" in request.headers:
        async for ctx in org_scope(request, org_id):
            yield ctx
        return
    settings: Settings = request.app.state.settings
    if (
        user is None
        or expires is None
        or not offboarding.link_valid(
            settings.export_link_secret, org_id, offboarding_export_id, user, expires, sig, time.time()
        )
    ):
        raise NotAuthenticated("This download link is invalid or has expired.", error=None)
    db: Database = request.app.state.db
    async with db.unit_of_work(org_id=org_id, user_id=user) as session:
        yield await tracking.worker_context(session, org_id, user)


@router.get(
    "/{org_id}/offboarding/exports/{offboarding_export_id}/download",
    summary="The zip: with the bearer token, or with a signed link's user, expires and sig",
    response_class=FileResponse,
)
async def download_offboarding_export(
    ctx: Annotated[OrgContext, Depends(_download_scope, scope="function")], offboarding_export_id: CanonicalUUID
) -> FileResponse:
    path, name = await offboarding.download(ctx, offboarding_export_id)
    return FileResponse(path, media_type="application/zip", filename=name)
