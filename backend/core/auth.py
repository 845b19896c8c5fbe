"""Access-token verification against the realm's JWKS, done locally on every request.

Keycloak signs with RS256; we accept nothing else whatever the token header claims. The key set is
cached in process: when it ages out it is refreshed in the background (requests keep being served from
the last good set while Keycloak is slow), an unknown ``kid`` triggers at most one refetch per cooldown
window (so forged ``kid``s cannot make us hammer Keycloak) and waits for it for a bounded time,
concurrent misses share one fetch, and a failed refresh keeps the last good keys so tokens keep working
while Keycloak is down.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import structlog
from jwt import PyJWK

from backend.core import metrics
from backend.core.errors import DependencyUnavailable, NotAuthenticated
from backend.core.revocation import Revocations
from backend.settings import Settings

log = structlog.get_logger(__name__)

ALGORITHM = "RS256"
#: Personal API tokens start with this (backend/tenancy/tokens.py resolves them); JWTs never do.
PERSONAL_TOKEN_PREFIX = "wt_pat_"
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: ``amr`` values (RFC 8176) that prove a second factor: Keycloak's OTP form says ``otp``, WebAuthn
#: ``hwk``/``swk``; ``mfa`` is the generic one an upstream identity provider may pass on.
SECOND_FACTORS = frozenset({"otp", "hwk", "swk", "mfa"})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as the verified access token says. Immutable for the life of a request."""

    subject: uuid.UUID
    client_id: str
    username: str | None
    email: str | None
    name: str | None
    realm_roles: frozenset[str]
    scopes: frozenset[str]
    #: Set for a personal API token (``wt_pat_…``): the token, the one organization it acts in and the
    #: role it caps the caller's membership role at. None for Keycloak access tokens.
    token_id: uuid.UUID | None = None
    token_org_id: uuid.UUID | None = None
    token_role: str | None = None
    #: The token's ``amr`` claim (how the person signed in, e.g. ``{"pwd", "otp"}``); empty when absent,
    #: and always empty for a personal token (presenting one proves nothing but the token).
    amr: frozenset[str] = frozenset()

    @property
    def has_second_factor(self) -> bool:
        """Did this sign-in use a second factor (the token's ``amr`` names one)?"""
        return not SECOND_FACTORS.isdisjoint(self.amr)

    #: How the person signed in: the alias of the identity provider Keycloak brokered the sign-in
    #: through (claim ``identity_provider``), None for a password sign-in. ``groups``: the provider's
    #: groups claim as Keycloak carried it through (claim ``groups``). ``sso_digest``: a digest of the
    #: SSO claims (provider, email, groups), computed once per token; the request compares it with the
    #: one last applied (backend/sso/login.py) and does nothing more when they match.
    identity_provider: str | None = None
    groups: frozenset[str] = frozenset()
    sso_digest: str | None = None

    @property
    def is_personal_token(self) -> bool:
        return self.token_id is not None

    @property
    def is_service_account(self) -> bool:
        return bool(self.username and self.username.startswith("service-account-"))


class JwksUnavailable(Exception):
    """No key set could be fetched and none is cached."""


class JwksCache:
    """The realm's signing keys, fetched lazily and refreshed without stalling requests.

    - A known ``kid`` in a fresh set is served from memory.
    - A known ``kid`` in a set older than ``max_age_seconds`` starts a refresh in the background. The
      request waits for it at most ``stale_wait_seconds``, counted from the start of the refresh (so a
      healthy Keycloak's answer, including a removed key, is seen at once), then is served from the last
      good set. Requests arriving while a slow refresh is in flight do not wait at all.
    - An unknown ``kid`` (or an empty cache) waits for a fetch, at most ``unknown_kid_wait_seconds``.
    - Fetches start at most once per ``unknown_kid_cooldown_seconds``, and concurrent callers share the one
      in flight. A failed fetch keeps the last good keys, however old.
    """

    def __init__(
        self,
        url: str,
        client: httpx.AsyncClient,
        *,
        max_age_seconds: float = 300.0,
        unknown_kid_cooldown_seconds: float = 10.0,
        stale_wait_seconds: float = 0.5,
        unknown_kid_wait_seconds: float = 3.0,
    ) -> None:
        self.url = url
        self._client = client
        self._max_age = max_age_seconds
        self._cooldown = unknown_kid_cooldown_seconds
        self._stale_wait = stale_wait_seconds
        self._unknown_wait = unknown_kid_wait_seconds
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = float("-inf")  # monotonic time of the last successful fetch
        self._attempted_at = float("-inf")  # monotonic time of the last attempt, failed or not
        self._refresh_task: asyncio.Task[None] | None = None
        self.fetch_count = 0

    async def get(self, kid: str) -> PyJWK:
        key = self._keys.get(kid)
        if key is not None and not self._stale():
            return key
        task = self._start_refresh()
        if task is not None:
            if key is not None:  # aged out: give the refresh a moment, then use the last good set
                await self._wait(task, self._stale_wait - (time.monotonic() - self._attempted_at))
            else:  # unknown kid: this request needs the new set
                await self._wait(task, self._unknown_wait)
        key = self._keys.get(kid)
        if key is None:
            if not self._keys and self._fetched_at == float("-inf"):
                raise JwksUnavailable(self.url)
            raise NotAuthenticated("The access token is not valid.")
        return key

    def _stale(self) -> bool:
        return time.monotonic() - self._fetched_at > self._max_age

    def _start_refresh(self) -> asyncio.Task[None] | None:
        """The refresh in flight, a new one if the cooldown allows, or None."""
        if self._refresh_task is not None and not self._refresh_task.done():
            return self._refresh_task
        if time.monotonic() - self._attempted_at < self._cooldown:
            return None
        self._attempted_at = time.monotonic()
        self._refresh_task = asyncio.create_task(self._refresh(), name="jwks-refresh")
        return self._refresh_task

    async def _wait(self, task: asyncio.Task[None], seconds: float) -> None:
        if seconds <= 0 or task.done():
            return
        try:
            # shield: a request that stops waiting (or is cancelled) must not cancel the shared fetch.
            await asyncio.wait_for(asyncio.shield(task), seconds)
        except TimeoutError:
            log.warning("jwks_fetch_slow", url=self.url, waited_seconds=round(seconds, 3), kept=len(self._keys))

    async def _refresh(self) -> None:
        try:
            keys = await self._fetch()
        except (httpx.HTTPError, ValueError, jwt.PyJWKError) as exc:
            log.warning("jwks_fetch_failed", url=self.url, error=type(exc).__name__, kept=len(self._keys))
            metrics.jwks_refreshed(ok=False)
            return
        except Exception:  # a background task: never let an error go unlogged
            log.exception("jwks_fetch_failed", url=self.url, kept=len(self._keys))
            metrics.jwks_refreshed(ok=False)
            return
        metrics.jwks_refreshed(ok=True)
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def _fetch(self) -> dict[str, PyJWK]:
        self.fetch_count += 1
        response = await self._client.get(self.url)
        response.raise_for_status()
        keys: dict[str, PyJWK] = {}
        for jwk in response.json().get("keys", []):
            # Keycloak also publishes encryption keys (use=enc); only RS256 signing keys verify tokens.
            if jwk.get("use", "sig") != "sig" or jwk.get("alg", ALGORITHM) != ALGORITHM or "kid" not in jwk:
                continue
            keys[jwk["kid"]] = PyJWK(jwk, algorithm=ALGORITHM)
        log.info("jwks_fetched", url=self.url, kids=sorted(keys))
        return keys

    def is_current(self, kid: str) -> bool:
        """Is ``kid`` in a key set that is still fresh? (False sends the caller to a full verification,
        which refreshes the set.)"""
        return kid in self._keys and not self._stale()

    def has_keys(self) -> bool:
        """Has a fetch ever succeeded? (Then known tokens verify from memory, however old the set.)"""
        return bool(self._keys)

    async def check_reachable(self) -> None:
        """Readiness probe: fetch now, regardless of the cache."""
        response = await self._client.get(self.url)
        response.raise_for_status()


class TokenVerifier:
    """Verifies access tokens. A client reuses its token for minutes, so a verified token is remembered
    (until it expires, its key leaves the fresh key set, or it is evicted) and not re-verified: the RSA
    check and claim parsing run once per token instead of once per request."""

    def __init__(
        self, settings: Settings, jwks: JwksCache, *, remember: int = 10_000, revocations: Revocations | None = None
    ) -> None:
        self._jwks = jwks
        self._remember = remember
        self.revocations = revocations or Revocations(
            settings.access_token_lifespan_seconds + settings.jwt_leeway_seconds
        )
        # token -> (principal, exp, kid, sid, iat)
        self._verified: dict[str, tuple[Principal, float, str, str | None, float]] = {}
        self._issuer = settings.keycloak_issuer
        self._audience = settings.keycloak_audience
        self._allowed_clients = frozenset(settings.keycloak_allowed_clients)
        self._leeway = settings.jwt_leeway_seconds

    async def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            principal, expires_at, known_kid, sid, issued_at = known
            if time.time() < expires_at and self._jwks.is_current(known_kid):
                self._refuse_revoked(sid, str(principal.subject), issued_at)
                return principal
            del self._verified[token]
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise NotAuthenticated("The access token is not valid.") from None
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str):
            raise NotAuthenticated("The access token is not valid.")
        try:
            key = await self._jwks.get(kid)
        except JwksUnavailable:
            raise DependencyUnavailable(
                "The identity provider's signing keys cannot be fetched.", extra={"dependency": "keycloak"}
            ) from None

        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError:
            raise NotAuthenticated("The access token has expired.", reason="expired") from None
        except jwt.InvalidTokenError as exc:
            # The reason goes to our log, never to the caller.
            log.info("token_rejected", reason=type(exc).__name__)
            raise NotAuthenticated("The access token is not valid.") from None

        principal = self._principal(claims)
        sid = claims.get("sid") if isinstance(claims.get("sid"), str) else None
        self._refuse_revoked(sid, str(principal.subject), float(claims["iat"]))
        if len(self._verified) >= self._remember:
            del self._verified[next(iter(self._verified))]  # oldest first
        self._verified[token] = (principal, float(claims["exp"]), kid, sid, float(claims["iat"]))
        return principal

    def _refuse_revoked(self, sid: str | None, sub: str, issued_at: float) -> None:
        """A token of a session (or subject) logged out since it was issued is refused, however valid."""
        if self.revocations.is_revoked(sid=sid, sub=sub, issued_at=issued_at):
            log.info("token_rejected", reason="session_revoked")
            raise NotAuthenticated("The session of this access token has ended.", reason="revoked")

    async def verify_logout_token(self, token: str) -> list[str]:
        """Verify a back-channel logout token (OpenID Connect Back-Channel Logout 1.0, section 2.6) to the
        standard of an access token, and return what it revokes: ``sid:<sid>`` and/or ``sub:<sub>``.
        Raises :class:`NotAuthenticated` (the caller answers 400) when it does not verify."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise NotAuthenticated("The logout token is not valid.") from None
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str):
            raise NotAuthenticated("The logout token is not valid.")
        try:
            key = await self._jwks.get(kid)
        except JwksUnavailable:
            raise DependencyUnavailable(
                "The identity provider's signing keys cannot be fetched.", extra={"dependency": "keycloak"}
            ) from None
        try:
            # The audience is the client the token was sent for: one of the clients whose tokens we accept.
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[ALGORITHM],
                audience=sorted(self._allowed_clients),
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["iss", "aud", "iat", "exp", "events"]},
            )
        except jwt.InvalidTokenError as exc:
            log.info("logout_token_rejected", reason=type(exc).__name__)
            raise NotAuthenticated("The logout token is not valid.") from None
        events = claims.get("events")
        sid, sub = claims.get("sid"), claims.get("sub")
        if (
            not isinstance(events, dict)
            or LOGOUT_EVENT not in events
            or "nonce" in claims
            or (not (isinstance(sid, str) and sid) and not (isinstance(sub, str) and sub))
        ):
            log.info("logout_token_rejected", reason="claims")
            raise NotAuthenticated("The logout token is not valid.")
        # A session id ends that session; a subject alone ends every session of that person.
        return [f"sid:{sid}"] if isinstance(sid, str) and sid else [f"sub:{sub}"]

    def _principal(self, claims: dict[str, Any]) -> Principal:
        # Keycloak marks access tokens "Bearer"; ID, refresh and offline tokens must not act as them.
        if claims.get("typ") != "Bearer":
            log.info("token_rejected", reason="wrong_type", typ=claims.get("typ"))
            raise NotAuthenticated("The access token is not valid.")
        client_id = claims.get("azp")
        if client_id not in self._allowed_clients:
            log.info("token_rejected", reason="client_not_allowed", azp=client_id)
            raise NotAuthenticated("The access token is not valid.")
        try:
            subject = uuid.UUID(str(claims["sub"]))
        except ValueError:
            raise NotAuthenticated("The access token is not valid.") from None
        realm_access = claims.get("realm_access") or {}
        amr = claims.get("amr")
        idp = claims.get("identity_provider")
        identity_provider = idp if isinstance(idp, str) and idp else None
        raw_groups = claims.get("groups")
        groups = frozenset(
            str(g) for g in (raw_groups if isinstance(raw_groups, list) else [raw_groups] if raw_groups else [])
        )
        email = claims.get("email")
        return Principal(
            subject=subject,
            client_id=str(client_id),
            username=claims.get("preferred_username"),
            email=email,
            name=claims.get("name"),
            realm_roles=frozenset(realm_access.get("roles", [])),
            scopes=frozenset(str(claims.get("scope", "")).split()),
            amr=frozenset(str(value) for value in amr) if isinstance(amr, list) else frozenset(),
            identity_provider=identity_provider,
            groups=groups,
            sso_digest=sso_digest(identity_provider, email, groups) if identity_provider else None,
        )


def sso_digest(identity_provider: str, email: object, groups: frozenset[str]) -> str:
    """What the SSO claims of a token amount to, as one comparable string (hex SHA-256)."""
    text = "\x1f".join([identity_provider, str(email or "").lower(), *sorted(groups)])
    return hashlib.sha256(text.encode()).hexdigest()


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise NotAuthenticated("This endpoint needs a bearer access token.", error=None, reason="missing")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated(
            "The Authorization header must be 'Bearer <token>'.", error="invalid_request", reason="malformed"
        )
    return token.strip()
