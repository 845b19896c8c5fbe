from __future__ import annotations

from fastapi import APIRouter, Response, status

from backend.core.conditional import IfMatch, set_etag
from backend.core.pagination import Page, Paging
from backend.orgs import schemas, service
from backend.tenancy.context import CurrentOrg, CurrentUser, CurrentUserTransactions
from backend.tenancy.directory import CurrentDirectory

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


@router.post("/{org_id}/archive", summary="Archive an organization (read-only afterwards)")
async def archive_organization(ctx: CurrentOrg) -> schemas.OrganizationRead:
    return await service.archive(ctx)


@router.get("/{org_id}/audit-events", summary="Read the organization's audit trail, newest first")
async def list_audit_events(ctx: CurrentOrg, page: Paging) -> Page[schemas.AuditEventRead]:
    return await service.list_audit_events(ctx, page)
