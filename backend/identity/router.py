from __future__ import annotations

from fastapi import APIRouter

from backend.identity.schemas import Me
from backend.tenancy.context import CurrentUser

router = APIRouter(tags=["identity"])


@router.get("/me", summary="Who am I, according to my access token")
async def read_me(ctx: CurrentUser) -> Me:
    # Self-service identity: no tenant data, so no authorization decision beyond a valid token.
    return Me(
        id=ctx.user.id,
        username=ctx.user.username,
        email=ctx.user.email,
        name=ctx.user.display_name,
        client_id=ctx.principal.client_id,
        is_service_account=ctx.principal.is_service_account,
    )
