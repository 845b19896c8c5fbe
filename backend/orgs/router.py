from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

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
