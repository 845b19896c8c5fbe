"""Browser sessions of the web app (backend-for-frontend): tokens stay on the server, in Redis.

The browser holds one opaque, random session id in an ``HttpOnly`` ``SameSite=Lax`` cookie
(``Secure`` in production). Behind it Redis keeps the Keycloak tokens of the sign-in, refreshed here
shortly before the access token expires, and a CSRF token the pages send back in ``X-CSRF-Token`` on
every state-changing request (a synchronizer token: it never leaves the page, and a cross-site form
cannot set a custom header). A request carrying the cookie is turned into the same verified
``Principal`` as a bearer token: the stored access token goes through the app's ``TokenVerifier``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any

import httpx
import structlog
from redis.asyncio import Redis

from backend.core.auth import Principal, TokenVerifier
from backend.core.errors import Forbidden, NotAuthenticated
from backend.settings import Settings

log = structlog.get_logger(__name__)

COOKIE = "wt_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_PREFIX = "web:session:"
# Keycloak session id (or subject) -> the web sessions signed in through it, for back-channel logout.
_BY_KEY_PREFIX = "web:by:"
_REFRESH_MARGIN = 30  # seconds before the access token's expiry when it is refreshed


@dataclass(slots=True)
class WebSession:
    access_token: str
    refresh_token: str | None
    id_token: str | None
    expires_at: float
    refresh_expires_at: float
    csrf: str
    created_at: float

    @classmethod
    def from_tokens(
        cls, tokens: dict[str, Any], *, csrf: str | None = None, created_at: float | None = None
    ) -> WebSession:
        now = time.time()
        refresh_in = tokens.get("refresh_expires_in") or 0
        return cls(
            access_token=str(tokens["access_token"]),
            refresh_token=tokens.get("refresh_token"),
            id_token=tokens.get("id_token"),
            expires_at=now + float(tokens.get("expires_in", 60)),
            # 0 means "as long as the SSO session" (offline tokens); bounded by the session's max life.
            refresh_expires_at=now + float(refresh_in) if refresh_in else float("inf"),
            csrf=csrf or secrets.token_urlsafe(32),
            created_at=created_at or now,
        )


class SessionStore:
    def __init__(self, settings: Settings, redis: Redis, http: httpx.AsyncClient, verifier: TokenVerifier) -> None:
        self.settings = settings
        self.redis = redis
        self.http = http
        self.verifier = verifier

    # --- storage ------------------------------------------------------------------------------------

    async def create(
        self, tokens: dict[str, Any], *, sid: str | None = None, sub: str | None = None
    ) -> tuple[str, WebSession]:
        """Store a new session. ``sid`` (Keycloak's session id) and ``sub`` index it, so a back-channel
        logout from Keycloak ends it (:meth:`end`)."""
        session_id = secrets.token_urlsafe(32)
        session = WebSession.from_tokens(tokens)
        await self._save(session_id, session)
        ttl = max(1, int(self.settings.web_session_max_seconds))
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in (f"sid:{sid}" if sid else None, f"sub:{sub}" if sub else None):
                if key:
                    pipe.sadd(_BY_KEY_PREFIX + key, session_id)
                    pipe.expire(_BY_KEY_PREFIX + key, ttl)
            await pipe.execute()
        return session_id, session

    async def end(self, keys: list[str]) -> int:
        """End the web sessions behind revoked Keycloak sessions (``sid:<sid>``) or people
        (``sub:<sub>``), as a back-channel logout names them. Returns how many were ended."""
        return await end_sessions(self.redis, keys)

    async def _save(self, session_id: str, session: WebSession) -> None:
        remaining = self.settings.web_session_max_seconds - (time.time() - session.created_at)
        ttl = int(min(remaining, session.refresh_expires_at - time.time()))
        if ttl <= 0:
            await self.redis.delete(_PREFIX + session_id)
            return
        data = asdict(session)
        data["refresh_expires_at"] = None if session.refresh_expires_at == float("inf") else session.refresh_expires_at
        await self.redis.set(_PREFIX + session_id, json.dumps(data), ex=ttl)

    async def load(self, session_id: str | None) -> WebSession | None:
        if not session_id or len(session_id) > 100:
            return None
        raw = await self.redis.get(_PREFIX + session_id)
        if raw is None:
            return None
        data = json.loads(raw)
        if data.get("refresh_expires_at") is None:
            data["refresh_expires_at"] = float("inf")
        return WebSession(**data)

    async def delete(self, session_id: str | None) -> WebSession | None:
        session = await self.load(session_id)
        if session_id:
            await self.redis.delete(_PREFIX + session_id)
        return session

    # --- use ----------------------------------------------------------------------------------------

    async def current(self, session_id: str | None) -> WebSession | None:
        """The live session behind a cookie, its access token refreshed when close to expiry; None when
        there is none (or it can no longer be refreshed: the person must sign in again)."""
        session = await self.load(session_id)
        if session is None or session_id is None:
            return None
        if session.expires_at - _REFRESH_MARGIN > time.time():
            return session
        return await self._refresh(session_id, session)

    async def _refresh(self, session_id: str, session: WebSession) -> WebSession | None:
        # Keycloak rotates refresh tokens (single use): one refresh per session at a time, the others
        # wait for it and read the stored result.
        lock = f"{_PREFIX}{session_id}:refresh"
        if not await self.redis.set(lock, "1", nx=True, ex=10):
            for _ in range(50):
                await asyncio.sleep(0.1)
                if not await self.redis.exists(lock):
                    break
            fresh = await self.load(session_id)
            return fresh if fresh and fresh.expires_at - _REFRESH_MARGIN > time.time() else None
        try:
            if not session.refresh_token:
                await self.redis.delete(_PREFIX + session_id)
                return None
            try:
                response = await self.http.post(
                    self.settings.keycloak_token_url,
                    data={"grant_type": "refresh_token", "refresh_token": session.refresh_token, **self.client_auth()},
                )
            except httpx.HTTPError:
                log.warning("web_session_refresh_unreachable")
                return session if session.expires_at > time.time() else None
            if response.status_code != 200:
                log.info("web_session_refresh_refused", status=response.status_code)
                await self.redis.delete(_PREFIX + session_id)
                return None
            tokens = response.json()
            tokens.setdefault("id_token", session.id_token)
            fresh = WebSession.from_tokens(tokens, csrf=session.csrf, created_at=session.created_at)
            await self._save(session_id, fresh)
            log.info("web_session_refreshed")
            return fresh
        finally:
            await self.redis.delete(lock)

    def client_auth(self) -> dict[str, str]:
        auth = {"client_id": self.settings.web_client_id}
        if self.settings.web_client_secret:
            auth["client_secret"] = self.settings.web_client_secret
        return auth

    async def principal(self, session_id: str, method: str, csrf_header: str | None) -> Principal:
        """The verified caller behind a session cookie. State-changing requests must carry the
        session's CSRF token in ``X-CSRF-Token``."""
        session = await self.current(session_id)
        if session is None:
            raise NotAuthenticated("Your session has ended; sign in again.")
        if method.upper() not in SAFE_METHODS and not (
            csrf_header and hmac.compare_digest(csrf_header.encode(), session.csrf.encode())
        ):
            raise Forbidden("The request lacks this session's CSRF token (X-CSRF-Token); reload the page.")
        return await self.verifier.verify(session.access_token)


async def end_sessions(redis: Redis, keys: list[str]) -> int:
    """End the web sessions indexed under ``sid:<sid>`` or ``sub:<sub>``; usable without a store (the
    worker ends a disabled person's sessions with it). Returns how many were ended."""
    ended = 0
    for key in keys:
        members = await redis.smembers(_BY_KEY_PREFIX + key)
        ids = [m.decode() if isinstance(m, bytes) else str(m) for m in members]
        if ids:
            ended += int(await redis.delete(*(_PREFIX + i for i in ids)))
        await redis.delete(_BY_KEY_PREFIX + key)
    return ended
