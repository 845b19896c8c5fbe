from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from backend.clients import schemas, service
from backend.core.pagination import Page, Paging
from backend.core.validation import CanonicalUUID, SafeText
from backend.tenancy.context import CurrentOrg

router = APIRouter(prefix="/orgs/{org_id}/clients", tags=["clients"])


@router.post("", status_code=status.HTTP_201_CREATED, summary="Add a client")
async def create_client(ctx: CurrentOrg, data: schemas.ClientCreate) -> schemas.ClientRead:
    return await service.create(ctx, data)


@router.get("", summary="List clients (by name; `search` matches the name)")
async def list_clients(
    ctx: CurrentOrg,
    page: Paging,
    include_archived: bool = False,
    search: Annotated[SafeText | None, Query(max_length=100, description="Matches the name")] = None,
) -> Page[schemas.ClientRead]:
    return await service.list_clients(ctx, page, include_archived=include_archived, search=search)


@router.get("/{client_id}", summary="Read a client")
async def read_client(ctx: CurrentOrg, client_id: CanonicalUUID) -> schemas.ClientRead:
    return await service.get(ctx, client_id)


@router.patch("/{client_id}", summary="Change a client")
async def update_client(ctx: CurrentOrg, client_id: CanonicalUUID, data: schemas.ClientUpdate) -> schemas.ClientRead:
    return await service.update(ctx, client_id, data)


@router.post("/{client_id}/archive", summary="Archive a client")
async def archive_client(ctx: CurrentOrg, client_id: CanonicalUUID) -> schemas.ClientRead:
    return await service.archive(ctx, client_id)


@router.delete("/{client_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a client without projects")
async def delete_client(ctx: CurrentOrg, client_id: CanonicalUUID) -> Response:
    await service.delete(ctx, client_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
