from __future__ import annotations

from fastapi import APIRouter, status

from backend.core.pagination import Page, Paging
from backend.core.validation import CanonicalUUID
from backend.tenancy.context import CurrentOrg
from backend.tokens import schemas, service

router = APIRouter(prefix="/orgs/{org_id}/personal-tokens", tags=["personal tokens"])


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a personal API token (shown once)")
async def create_personal_token(ctx: CurrentOrg, data: schemas.PersonalTokenCreate) -> schemas.PersonalTokenCreated:
    """Create a token for this organization, with a name, an expiry (at most a year) and a role no higher
    than yours. Send it as `Authorization: Bearer wt_pat_…`. The token is in this response only."""
    return await service.create(ctx, data)


@router.get("", summary="List personal API tokens (yours; everyone's for admins with all=true)")
async def list_personal_tokens(ctx: CurrentOrg, page: Paging, all: bool = False) -> Page[schemas.PersonalTokenRead]:
    return await service.list_tokens(ctx, page, everyone=all)


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke a personal API token")
async def revoke_personal_token(ctx: CurrentOrg, token_id: CanonicalUUID) -> None:
    """Your own token, or anyone's in the organization for admins. It stops working on the next request."""
    await service.revoke(ctx, token_id)
