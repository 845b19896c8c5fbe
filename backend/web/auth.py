"""Sign-in and sign-out: Keycloak's authorization code flow with PKCE, the code exchanged here.

``GET /auth/login`` asks for the email address first (home-realm discovery). ``POST /auth/login`` looks
the address's domain up with the same discovery as ``GET /api/v1/sso/discover``: an address at a domain
that an organization has **verified** and connected a provider for goes to Keycloak with
``kc_idp_hint=<the provider's alias>`` (Keycloak sends the browser straight on to that provider); every
other address (or a plain username) goes to Keycloak's own password form, with ``login_hint`` filling
the address in. An unverified claim never routes anyone anywhere.

Starting the flow remembers a PKCE verifier, nonce and return path in Redis under a random ``state``
(also set in a short-lived cookie, so a callback only completes in the browser that started it) and
sends the browser to Keycloak. ``/auth/callback`` exchanges the code with the client's secret and the
verifier, checks the ID token's nonce and the access token (with the API's own verifier), stores the
tokens server-side and gives the browser only an opaque session cookie. ``/auth/logout`` (a POST with
the session's CSRF token) drops the session and ends the Keycloak session (RP-initiated logout).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
import jwt
import structlog
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from backend.core.auth import ALGORITHM, JwksCache, TokenVerifier
from backend.core.db import Database
from backend.core.errors import NotAuthenticated, UnprocessableContent
from backend.core.websession import COOKIE, SessionStore
from backend.settings import Settings
from backend.sso import service as sso
from backend.tenancy.directory import directory_of
from backend.web.pages import templates

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/auth", include_in_schema=False)

LOGIN_COOKIE = "wt_login"
_LOGIN_PREFIX = "web:login:"


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def sessions_of(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.web_sessions
    return store


def base_url(request: Request) -> str:
    configured = settings_of(request).web_base_url
    return (configured or str(request.base_url)).rstrip("/")


def safe_next(value: str | None) -> str:
    """Only a path on this site (never ``//host`` or a full URL): no open redirect."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _cookie_kwargs(request: Request) -> dict[str, Any]:
    return {"httponly": True, "samesite": "lax", "secure": settings_of(request).web_cookie_secure_on}


def _error_page(message: str, status: int = 400) -> HTMLResponse:
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Sign-in failed</title>"
        '<link rel="stylesheet" href="/static/app.css"><main class="narrow"><h1>Sign-in failed</h1>'
        f"<p>{message}</p><p><a href='/auth/login'>Try again</a></p></main></html>"
    )
    return HTMLResponse(body, status_code=status)


NextPath = Annotated[str | None, Query(alias="next", max_length=500)]


def _signin_page(request: Request, next_: str, email: str = "", error: str = "", status: int = 200) -> Response:
    response = templates.TemplateResponse(
        request,
        "signin.html",
        {"title": "Sign in", "next": next_, "email": email, "error": error},
        status_code=status,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/login")
async def login(
    request: Request,
    next_: NextPath = None,
    login_hint: Annotated[str | None, Query(max_length=320)] = None,
    kc_idp_hint: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")] = None,
) -> Response:
    """The email-first sign-in page (no script: a plain form posting back here). With ``kc_idp_hint`` (an
    enforced-SSO refusal's ``sign_in_url``) the organization's provider is already known: straight there."""
    if kc_idp_hint:
        if login_hint and "@" in login_hint:
            await sso.prepare_sign_in(request.app.state.db, directory_of(request), login_hint, kc_idp_hint)
        return await _authorize(request, safe_next(next_), login_hint=login_hint or "", idp_hint=kc_idp_hint)
    return _signin_page(request, safe_next(next_), login_hint or "")


@router.post("/login")
async def login_start(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    next_: Annotated[str, Form(alias="next", max_length=500)] = "/",
) -> Response:
    """Home-realm discovery, then off to Keycloak: to the organization's provider, or to the password form."""
    typed = email.strip()
    target = safe_next(next_)
    if not typed:
        return _signin_page(request, target, error="Type your email address to sign in.", status=422)
    try:
        idp_hint = await _discover(request, typed)
    except UnprocessableContent:
        return _signin_page(
            request, target, typed, error="That is not an email address (like someone@example.com).", status=422
        )
    log.info("web_sign_in_started", method="sso" if idp_hint else "password")
    return await _authorize(request, target, login_hint=typed, idp_hint=idp_hint)


async def _discover(request: Request, typed: str) -> str | None:
    """The identity provider alias an address signs in with (its domain is an organization's verified SSO
    domain), else None; an address with no "@" is a username, which never names a domain."""
    if "@" not in typed:
        return None
    db: Database = request.app.state.db
    async with db.transaction() as session:
        found = await sso.discover(session, typed)
    idp_hint = found.kc_idp_hint if found.method == "sso" else None
    if idp_hint:  # outside the discovery's transaction: it asks Keycloak
        await sso.prepare_sign_in(db, directory_of(request), typed, idp_hint)
    return idp_hint


# --- email first for OAuth clients (Swagger UI) ------------------------------------------------------

# What an authorization request may carry on to Keycloak; anything else is dropped.
_OAUTH_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "response_mode",
)


def _oauth_params(request: Request, source: dict[str, Any]) -> dict[str, str] | None:
    """The request's OAuth parameters, when they are for the API docs' public client (the only client that
    signs in through this page); Keycloak still checks the redirect URI against that client."""
    params = {k: str(source[k]) for k in _OAUTH_PARAMS if isinstance(source.get(k), str) and len(source[k]) <= 2000}
    if params.get("client_id") != settings_of(request).keycloak_docs_client_id:
        return None
    return params


def _oauth_signin_page(request: Request, params: dict[str, str], email: str = "", error: str = "") -> Response:
    response = templates.TemplateResponse(
        request,
        "signin.html",
        {"title": "Sign in", "email": email, "error": error, "action": "/auth/authorize", "oauth": params},
        status_code=422 if error else 200,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/authorize")
async def oauth_authorize(request: Request) -> Response:
    """Swagger UI's *Authorize* lands here (the OpenAPI ``authorizationUrl``): the email first, so an
    address at a verified SSO domain goes straight to its organization's provider, as on the web app."""
    params = _oauth_params(request, dict(request.query_params))
    if params is None:
        return _error_page("This sign-in request is not for a client that signs in here.")
    return _oauth_signin_page(request, params, request.query_params.get("login_hint", "")[:320])


@router.post("/authorize")
async def oauth_authorize_start(request: Request) -> Response:
    form = await request.form()
    params = _oauth_params(request, dict(form))
    if params is None:
        return _error_page("This sign-in request is not for a client that signs in here.")
    typed = str(form.get("email") or "").strip()[:320]
    if not typed:
        return _oauth_signin_page(request, params, error="Type your email address to sign in.")
    try:
        idp_hint = await _discover(request, typed)
    except UnprocessableContent:
        return _oauth_signin_page(request, params, typed, "That is not an email address (like someone@example.com).")
    log.info("docs_sign_in_started", method="sso" if idp_hint else "password")
    forwarded = {**params, "login_hint": typed, **({"kc_idp_hint": idp_hint} if idp_hint else {})}
    realm = settings_of(request).keycloak_browser_realm_url
    return RedirectResponse(f"{realm}/protocol/openid-connect/auth?{urlencode(forwarded)}", 303)


async def _authorize(request: Request, next_path: str, *, login_hint: str, idp_hint: str | None) -> Response:
    settings = settings_of(request)
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    nonce = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect_uri = f"{base_url(request)}/auth/callback"
    record = {"verifier": verifier, "nonce": nonce, "next": next_path, "redirect_uri": redirect_uri}
    await sessions_of(request).redis.set(
        _LOGIN_PREFIX + state, json.dumps(record), ex=settings.web_login_timeout_seconds
    )
    params = {
        "response_type": "code",
        "client_id": settings.web_client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid profile email",
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "login_hint": login_hint,
    }
    if idp_hint:
        params["kc_idp_hint"] = idp_hint
    query = urlencode(params)
    response = RedirectResponse(f"{settings.keycloak_browser_realm_url}/protocol/openid-connect/auth?{query}", 303)
    response.set_cookie(
        LOGIN_COOKIE, state, max_age=settings.web_login_timeout_seconds, path="/auth", **_cookie_kwargs(request)
    )
    return response


@router.get("/callback")
async def callback(
    request: Request,
    code: Annotated[str | None, Query(max_length=4000)] = None,
    state: Annotated[str | None, Query(max_length=200)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    store = sessions_of(request)
    expected = request.cookies.get(LOGIN_COOKIE)
    if error:
        return _error_page("Keycloak did not sign you in. You can try again.")
    if not code or not state or not expected or not hmac.compare_digest(state.encode(), expected.encode()):
        return _error_page("This sign-in link is not the one this browser started, or it is incomplete.")
    raw = await store.redis.getdel(_LOGIN_PREFIX + state)
    if raw is None:
        return _error_page("This sign-in took too long or was already used.")
    record = json.loads(raw)
    settings = settings_of(request)
    try:
        answer = await store.http.post(
            settings.keycloak_token_url,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": record["redirect_uri"],
                "code_verifier": record["verifier"],
                **store.client_auth(),
            },
        )
    except httpx.HTTPError:
        return _error_page("Keycloak cannot be reached right now.", 503)
    if answer.status_code != 200:
        log.info("web_code_exchange_refused", status=answer.status_code)
        return _error_page("Keycloak refused the sign-in code.")
    tokens = answer.json()
    try:
        await _check_id_token(request, tokens.get("id_token"), record["nonce"])
        verifier: TokenVerifier = request.app.state.verifier
        principal = await verifier.verify(str(tokens["access_token"]))
    except (NotAuthenticated, KeyError):
        return _error_page("The tokens Keycloak returned are not valid here.")
    claims = jwt.decode(str(tokens["access_token"]), options={"verify_signature": False})  # verified above
    sid = claims.get("sid") if isinstance(claims.get("sid"), str) else None
    session_id, _ = await store.create(tokens, sid=sid, sub=str(principal.subject))
    log.info("web_signed_in", user_id=str(principal.subject))
    response = RedirectResponse(record["next"], 303)
    response.set_cookie(
        COOKIE, session_id, max_age=settings.web_session_max_seconds, path="/", **_cookie_kwargs(request)
    )
    response.delete_cookie(LOGIN_COOKIE, path="/auth")
    return response


async def _check_id_token(request: Request, id_token: str | None, nonce: str) -> None:
    if not id_token:
        raise NotAuthenticated("no id token")
    settings = settings_of(request)
    jwks: JwksCache = request.app.state.jwks
    try:
        kid = jwt.get_unverified_header(id_token).get("kid")
        key = await jwks.get(str(kid))
        claims = jwt.decode(
            id_token,
            key=key.key,
            algorithms=[ALGORITHM],
            audience=settings.web_client_id,
            issuer=settings.keycloak_issuer,
            leeway=settings.jwt_leeway_seconds,
        )
    except jwt.InvalidTokenError:
        raise NotAuthenticated("bad id token") from None
    if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), nonce.encode()):
        raise NotAuthenticated("nonce mismatch")


@router.post("/logout")
async def logout(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    store = sessions_of(request)
    session_id = request.cookies.get(COOKIE)
    session = await store.load(session_id)
    if session is not None and not hmac.compare_digest(csrf.encode(), session.csrf.encode()):
        return _error_page("Sign-out needs the page's token; go back, reload and try again.", 403)
    await store.delete(session_id)
    settings = settings_of(request)
    params = {"client_id": settings.web_client_id, "post_logout_redirect_uri": f"{base_url(request)}/"}
    if session is not None and session.id_token:
        params["id_token_hint"] = session.id_token
    response = RedirectResponse(
        f"{settings.keycloak_browser_realm_url}/protocol/openid-connect/logout?{urlencode(params)}", 303
    )
    response.delete_cookie(COOKIE, path="/")
    return response
