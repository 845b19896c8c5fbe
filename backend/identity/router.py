from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Form, Request, Response
from redis.exceptions import RedisError

from backend.core.auth import TokenVerifier
from backend.core.errors import DependencyUnavailable, NotAuthenticated, ProblemError
from backend.core.websession import SessionStore
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


log = structlog.get_logger(__name__)


@router.post(
    "/auth/backchannel-logout",
    summary="OpenID Connect back-channel logout: Keycloak ends a session, its access tokens stop working now",
    responses={400: {"description": "The logout token does not verify"}},
)
async def backchannel_logout(
    request: Request, logout_token: Annotated[str, Form(min_length=1, max_length=16_384)]
) -> Response:
    # Called by Keycloak, not by people: no bearer token; the signed logout token is the credential.
    verifier: TokenVerifier = request.app.state.verifier
    try:
        revoked = await verifier.verify_logout_token(logout_token)
    except NotAuthenticated:
        raise ProblemError("The logout token is not valid.") from None
    try:
        await verifier.revocations.revoke(request.app.state.redis, revoked)
        # The web app's cookie sessions signed in through that Keycloak session end too.
        sessions: SessionStore | None = getattr(request.app.state, "web_sessions", None)
        if sessions is not None:
            ended = await sessions.end(revoked)
            if ended:
                log.info("web_sessions_ended", count=ended)
    except (RedisError, OSError) as exc:
        # This process refuses the session already; Keycloak hears a failure so the logout is not silent.
        log.warning("revocation_not_shared", error=type(exc).__name__)
        raise DependencyUnavailable("Revocation could not be shared.", extra={"dependency": "redis"}) from exc
    return Response(status_code=200, headers={"Cache-Control": "no-store"})
