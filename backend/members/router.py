from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from backend.core.deps import CurrentOrg
from backend.core.pagination import Page, Paging
from backend.core.validation import SafeText
from backend.members import schemas, service
from backend.members.keycloak import IdentityProvider

router = APIRouter(prefix="/orgs/{org_id}/members", tags=["members"])


async def identity_provider(request: Request) -> IdentityProvider:
    idp: IdentityProvider = request.app.state.idp
    return idp


Idp = Annotated[IdentityProvider, Depends(identity_provider)]


@router.get("", summary="List members")
async def list_members(
    ctx: CurrentOrg,
    page: Paging,
    search: Annotated[SafeText | None, Query(max_length=100, description="Matches email or name")] = None,
) -> Page[schemas.MemberRead]:
    items, total = await service.list_members(ctx, page, search=search)
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post(
    "/invitations",
    status_code=status.HTTP_201_CREATED,
    summary="Invite a person by email (creates or links their Keycloak account and emails them)",
)
async def invite_member(ctx: CurrentOrg, idp: Idp, data: schemas.Invitation) -> schemas.MemberRead:
    return await service.invite(ctx, idp, data)


@router.patch("/{user_id}", summary="Change a member's role")
async def change_member_role(ctx: CurrentOrg, user_id: uuid.UUID, data: schemas.RoleChange) -> schemas.MemberRead:
    return await service.change_role(ctx, user_id, data)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a member (or leave)")
async def remove_member(ctx: CurrentOrg, user_id: uuid.UUID) -> Response:
    await service.remove(ctx, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
