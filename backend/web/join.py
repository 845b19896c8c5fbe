"""The invitation landing page (``/join/<token>``): the link in the platform's invitation email.

Public pages: the signed invitation link (backend/members/links.py) is the only credential, so there
is no session and no CSRF token. The POST only makes Keycloak email the invitee's own address, at most
once per ``invitation_resend_seconds`` per invitation (a Redis key), which is what a forged cross-site
POST could do at worst. An authentic link is opened at most ``VIEWS_PER_MINUTE`` times a minute (each
view asks the database and Keycloak); a forged one costs one HMAC and no I/O.
A link that is forged, expired, replaced or spent gets one plain page (410), never a stack trace, and
never says which of these it was.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend.core.errors import DependencyUnavailable
from backend.members import service as members
from backend.settings import Settings
from backend.web.auth import base_url
from backend.web.pages import templates

router = APIRouter(prefix="/join", include_in_schema=False)

_STATUS = {"invalid": 410, "unavailable": 503, "busy": 429}
# Page views per link and minute: each one asks the database and Keycloak's admin API.
VIEWS_PER_MINUTE = 30
# No length or pattern check here: a mangled link gets the same page as any other bad one (the
# signature check refuses anything over MAX_TOKEN_LENGTH before decoding it).
Token = str


def _page(request: Request, state: str, token: str, invitation: members.LinkedInvitation | None) -> Response:
    settings: Settings = request.app.state.settings
    context: dict[str, int | str | None] = {
        "state": state,
        "token": token,
        "title": "Try again shortly" if state in ("unavailable", "busy") else "Invitation link not valid",
        "setup_minutes": settings.invitation_setup_link_seconds // 60,
    }
    if invitation is not None:
        context |= {
            "inviter": invitation.inviter,
            "email": invitation.email,
            "org_name": invitation.org_name,
            "role": invitation.role.value,
            "title": f"Join {invitation.org_name}",
            "sso_hint": invitation.sso_hint,
        }
    response = templates.TemplateResponse(request, "join.html", context, status_code=_STATUS.get(state, 200))
    # The token is in the URL: keep it out of caches and of Referer headers to other sites.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    if state == "busy":
        response.headers["Retry-After"] = "60"
    return response


class _Busy(Exception):
    pass


async def _invitation(request: Request, token: str) -> members.LinkedInvitation | None:
    # A forged or expired link is refused by its signature alone; an authentic one is counted.
    link = members.link_id(token)
    if link is None:
        return None
    redis: Redis = request.app.state.redis
    key = f"invite:views:{link}"
    async with redis.pipeline(transaction=True) as pipe:
        # One MULTI: the window starts with the first view and always expires (INCR keeps the TTL).
        pipe.set(key, 0, ex=60, nx=True)
        pipe.incr(key)
        _, views = await pipe.execute()
    if int(views) > VIEWS_PER_MINUTE:
        raise _Busy
    return await members.invitation_for_link(request.app.state.db, request.app.state.idp, token)


@router.get("/{token}")
async def join(request: Request, token: Token) -> Response:
    try:
        invitation = await _invitation(request, token)
    except (DependencyUnavailable, RedisError):
        return _page(request, "unavailable", token, None)
    except _Busy:
        return _page(request, "busy", token, None)
    if invitation is None:
        return _page(request, "invalid", token, None)
    assert invitation.account is not None
    if invitation.sso_hint is not None:  # enforced SSO: no password to set, ever
        return _page(request, "sso", token, invitation)
    return _page(request, "new" if invitation.account.needs_setup else "existing", token, invitation)


@router.post("/{token}/password")
async def set_password(request: Request, token: Token) -> Response:
    try:
        return await _set_password(request, token)
    except (DependencyUnavailable, RedisError):
        return _page(request, "unavailable", token, None)
    except _Busy:
        return _page(request, "busy", token, None)


async def _set_password(request: Request, token: str) -> Response:
    invitation = await _invitation(request, token)
    if invitation is None:
        return _page(request, "invalid", token, None)
    assert invitation.account is not None
    if invitation.sso_hint is not None:
        return _page(request, "sso", token, invitation)
    if not invitation.account.needs_setup:
        return _page(request, "existing", token, invitation)
    settings: Settings = request.app.state.settings
    redis: Redis = request.app.state.redis
    key = f"invite:setup:{invitation.org_id}:{invitation.user_id}"
    if not await redis.set(key, "1", nx=True, ex=settings.invitation_resend_seconds):
        return _page(request, "wait", token, invitation)
    try:
        # Keycloak sends the browser to the app's sign-in when the person is done.
        await members.send_password_setup(
            request.app.state.idp, invitation, redirect_uri=f"{base_url(request)}/auth/login"
        )
    except BaseException:
        await redis.delete(key)  # nothing was sent: let them try again at once
        raise
    return _page(request, "sent", token, invitation)
