from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from backend.core.pagination import Page, Paging
from backend.core.validation import CanonicalUUID, SafeText
from backend.members import schemas, service
from backend.members.keycloak import IdentityProvider
from backend.tenancy.context import CurrentInvitee, CurrentOrg, CurrentOrgTransactions, CurrentUser

router = APIRouter(tags=["members"])


async def identity_provider(request: Request) -> IdentityProvider:
    idp: IdentityProvider = request.app.state.idp
    return idp


Idp = Annotated[IdentityProvider, Depends(identity_provider)]


def app_url(request: Request) -> str:
    """The web app's public origin, for links in emails: configured, or this request's own."""
    configured: str | None = request.app.state.settings.web_base_url
    return (configured or str(request.base_url)).rstrip("/")


AppUrl = Annotated[str, Depends(app_url)]


@router.get("/orgs/{org_id}/members", summary="List members")
async def list_members(
    ctx: CurrentOrg,
    page: Paging,
    search: Annotated[SafeText | None, Query(max_length=100, description="Matches email or name")] = None,
) -> Page[schemas.MemberRead]:
    return await service.list_members(ctx, page, search=search)


@router.post(
    "/orgs/{org_id}/members/invitations",
    status_code=status.HTTP_201_CREATED,
    summary="Invite a person by email (creates or links their Keycloak account and emails them)",
)
async def invite_member(
    org: CurrentOrgTransactions, idp: Idp, url: AppUrl, data: schemas.Invitation
) -> schemas.MemberRead:
    # No request-long transaction: the service's short ones leave the pool alone while Keycloak works.
    return await service.invite(org, idp, data, app_url=url)


@router.patch("/orgs/{org_id}/members/{user_id}", summary="Change a member's role")
async def change_member_role(ctx: CurrentOrg, user_id: CanonicalUUID, data: schemas.RoleChange) -> schemas.MemberRead:
    return await service.change_role(ctx, user_id, data)


@router.delete(
    "/orgs/{org_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a member (or leave)"
)
async def remove_member(ctx: CurrentOrg, user_id: CanonicalUUID) -> Response:
    await service.remove(ctx, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/orgs/{org_id}/invitations", summary="List the organization's pending invitations")
async def list_invitations(ctx: CurrentOrg) -> list[schemas.PendingInvitationRead]:
    return await service.list_invitations(ctx)


@router.post(
    "/orgs/{org_id}/invitations/{user_id}/resend",
    summary="Email a pending invitation again (the previous link stops working)",
)
async def resend_invitation(ctx: CurrentOrg, user_id: CanonicalUUID, url: AppUrl) -> schemas.MemberRead:
    return await service.resend_invitation(ctx, user_id, app_url=url)


@router.delete(
    "/orgs/{org_id}/invitations/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke a pending invitation (its links stop working)",
)
async def revoke_invitation(ctx: CurrentOrg, user_id: CanonicalUUID) -> Response:
    await service.revoke_invitation(ctx, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me/invitations", summary="Invitations waiting for your answer")
async def list_my_invitations(ctx: CurrentUser) -> list[schemas.InvitationRead]:
    return await service.my_invitations(ctx)


@router.post("/orgs/{org_id}/invitations/accept", summary="Accept your invitation and join the organization")
async def accept_invitation(ctx: CurrentInvitee) -> schemas.MemberRead:
    return await service.accept_invitation(ctx)


@router.post(
    "/orgs/{org_id}/invitations/decline",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Decline your invitation",
)
async def decline_invitation(ctx: CurrentInvitee) -> Response:
    await service.decline_invitation(ctx)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
