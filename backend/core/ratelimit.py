"""Rate limits on ``/api/v1``, counted in Redis with the ``limits`` library (sliding-window counters).

A pure ASGI middleware, so it sees every API request before routing:

- a request without a valid access token (or web session cookie) counts against its client address
  (``anonymous``);
- a request with a valid token counts against the verified user (``user``) and, on
  ``/api/v1/orgs/{org_id}/...``, against the organization too (``org``);
- costly routes (invitations; later uploads, exports and imports) also count against a tighter per-user
  budget (``costly``).

Tokens are checked with the application's own verifier, which remembers verified tokens, so this costs no
second RSA check. An invalid token counts as anonymous and reaches the app, which answers its usual 401.

A refused request gets a 429 problem with ``Retry-After`` and the IETF ``RateLimit-Policy`` and
``RateLimit`` headers (draft-ietf-httpapi-ratelimit-headers, structured-field form).

**Decided locally, shared through Redis.** Asking Redis on every request would cost a round trip per
budget on the hot path. Each process instead decides from its own view of each budget (what Redis said
was left at the last sync, minus what this process admitted since) and reconciles with Redis in the
background every ``WORKTIME_RATE_LIMIT_SYNC_SECONDS`` (0.1 s): it adds what it admitted to the shared
window and reads back what is left. Within one process a budget is exact; across N processes it can be
overrun by what the others admit within one sync interval.

**Fail open.** When Redis does not answer within ``WORKTIME_RATE_LIMIT_REDIS_TIMEOUT_SECONDS`` (or
fails), each process keeps counting on its own (so one process alone still cannot exceed a budget),
Redis is left alone for a few seconds, and a warning is logged at most once a minute. Rate limiting must
never be the reason the API is down.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.core import metrics
from backend.core.auth import PERSONAL_TOKEN_PREFIX
from backend.core.errors import problem_response
from backend.core.http import API_PREFIX, header
from backend.core.websession import COOKIE as SESSION_COOKIE
from backend.core.websession import SessionStore
from backend.settings import Settings

log = structlog.get_logger(__name__)

_ORG_PATH = re.compile(
    r"^/api/v1/orgs/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?:/|$)"
)
WARN_INTERVAL_SECONDS = 60.0
BACKOFF_SECONDS = 5.0
ACTIVE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    item: RateLimitItem

    @property
    def window_seconds(self) -> int:
        return int(self.item.get_expiry())

    def policy_header(self) -> str:
        return f'"{self.name}";q={self.item.amount};w={self.window_seconds}'


@dataclass(frozen=True, slots=True)
class CostlyRoute:
    method: str  # "*" for any
    path: re.Pattern[str]

    @classmethod
    def parse(cls, spec: str) -> CostlyRoute:
        method, _, pattern = spec.strip().partition(" ")
        if not pattern.strip():
            raise ValueError(f"a costly route is 'METHOD REGEX', got {spec!r}")
        return cls(method.upper(), re.compile(pattern.strip()))

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method)) and self.path.search(path) is not None


@dataclass(slots=True)
class _Budget:
    """One process's view of one shared budget (a policy for one user, organization or address)."""

    policy: Policy
    key: str
    remaining: int  # left in the shared window at the last sync
    reset_at: float  # wall-clock time by which the window has capacity again (per the last sync)
    pending: int = 0  # admitted by this process since the last sync
    last_used: float = 0.0


class SharedBudgets:
    """Budgets decided in process and reconciled with Redis (via ``limits``) in the background."""

    def __init__(self, limiter: Callable[[], SlidingWindowCounterRateLimiter], *, interval: float, timeout: float):
        self._limiter = limiter
        self._interval = interval
        self._timeout = timeout
        self._budgets: dict[tuple[str, str], _Budget] = {}
        self._syncer: asyncio.Task[None] | None = None
        self._closed = False
        self._skip_until = 0.0  # monotonic time until which Redis is not asked (after a failure)
        self._warned_at = float("-inf")

    async def take(self, policy: Policy, key: str) -> int | None:
        """Admit one request (None) or refuse it (the seconds until the budget has room again)."""
        now = time.time()
        budget = self._budgets.get((policy.name, key))
        if budget is None:
            # First use in this process: start from what Redis says is left (one round trip, once).
            budget = _Budget(policy, key, remaining=policy.item.amount, reset_at=now + policy.window_seconds)
            self._budgets[(policy.name, key)] = budget
            await self._sync([budget])
        budget.last_used = now
        if budget.pending >= budget.remaining:
            return max(1, math.ceil(budget.reset_at - now))
        budget.pending += 1
        if not self._closed and (self._syncer is None or self._syncer.done()):
            self._syncer = asyncio.get_running_loop().create_task(self._sync_forever())
        return None

    async def _sync_forever(self) -> None:
        while self._budgets and not self._closed:
            await asyncio.sleep(self._interval)
            await self.sync()

    async def close(self) -> None:
        """Stop syncing (a cancellation can be swallowed by the Redis client mid-command, so the loop
        also checks a flag and is not waited for longer than one timeout), then send the last counts."""
        self._closed = True
        if self._syncer is not None:
            self._syncer.cancel()
            await asyncio.wait({self._syncer}, timeout=self._timeout * 4)
        await self.sync()  # what this process admitted still counts

    async def sync(self) -> None:
        """Send what this process admitted to Redis and read back what is left, for every budget in use."""
        now = time.time()
        for name_key, budget in list(self._budgets.items()):
            if budget.pending == 0 and now - budget.last_used > 2 * budget.policy.window_seconds:
                del self._budgets[name_key]
        # Budgets in use lately are refreshed every interval, so what other processes admit shows up here.
        await self._sync([b for b in self._budgets.values() if b.pending or now - b.last_used < ACTIVE_SECONDS])

    async def _sync(self, due: list[_Budget]) -> None:
        if not due or time.monotonic() < self._skip_until:
            return
        try:
            async with asyncio.timeout(self._timeout * (2 + len(due))):
                limiter = self._limiter()
                for budget in due:
                    sent = budget.pending
                    if sent:
                        # Refused when the shared window is full: then the budget is spent anyway.
                        await limiter.hit(budget.policy.item, budget.policy.name, budget.key, cost=sent)
                    stats = await limiter.get_window_stats(budget.policy.item, budget.policy.name, budget.key)
                    budget.pending -= sent
                    budget.remaining, budget.reset_at = stats.remaining, stats.reset_time
        except Exception as exc:  # Redis slow, down or confused: keep deciding locally
            self._skip_until = time.monotonic() + BACKOFF_SECONDS
            if time.monotonic() - self._warned_at >= WARN_INTERVAL_SECONDS:
                self._warned_at = time.monotonic()
                log.warning("rate_limit_unavailable", error=type(exc).__name__, action="counting per process")


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.anonymous = Policy("anonymous", parse(settings.rate_limit_anonymous))
        self.user = Policy("user", parse(settings.rate_limit_user))
        self.org = Policy("org", parse(settings.rate_limit_org))
        self.costly = Policy("costly", parse(settings.rate_limit_costly))
        self.costly_routes = [CostlyRoute.parse(spec) for spec in settings.rate_limit_costly_routes]
        self.timeout = settings.rate_limit_redis_timeout_seconds
        self._redis_url = settings.rate_limit_redis_url or settings.redis_url
        self._limiter: SlidingWindowCounterRateLimiter | None = None
        self.budgets = SharedBudgets(self._get_limiter, interval=settings.rate_limit_sync_seconds, timeout=self.timeout)

    def _get_limiter(self) -> SlidingWindowCounterRateLimiter:
        if self._limiter is None:
            storage = RedisStorage(
                "async+" + self._redis_url,
                implementation="redispy",
                key_prefix="worktime-ratelimit",
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
            )
            self._limiter = SlidingWindowCounterRateLimiter(storage)
        return self._limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX) or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        if "app" in scope:  # the app's lifespan closes the budgets (flushes the last counts, stops the sync)
            scope["app"].state.rate_budgets = self.budgets
        checks = await self._checks(scope)
        refused = await self._take(checks)
        if refused is None:
            await self.app(scope, receive, send)
            return
        policy, retry_after = refused
        log.info("rate_limited", policy=policy.name, path=scope["path"])
        metrics.rate_limited(policy.name)
        state = scope.get("state", {})
        response = problem_response(
            429,
            type_slug="too-many-requests",
            title="Too many requests",
            detail=f"The {policy.name} request budget of {policy.item.amount} per {policy.window_seconds} s "
            f"is spent; retry in {retry_after} s.",
            instance=scope["path"],
            headers={
                "Retry-After": str(retry_after),
                "RateLimit-Policy": policy.policy_header(),
                "RateLimit": f'"{policy.name}";r=0;t={retry_after}',
            },
            request_id=state.get("request_id"),
            policy=policy.name,
        )
        await response(scope, receive, send)

    async def _checks(self, scope: Scope) -> list[tuple[Policy, str]]:
        subject = await self._subject(scope)
        if subject is None:
            client = scope.get("client")
            return [(self.anonymous, f"ip:{client[0] if client else 'unknown'}")]
        checks = [(self.user, f"user:{subject}")]
        method, path = scope["method"], scope["path"]
        if any(route.matches(method, path) for route in self.costly_routes):
            checks.append((self.costly, f"user:{subject}"))
        if match := _ORG_PATH.match(path):
            checks.append((self.org, f"org:{match.group(1).lower()}"))
        return checks

    async def _subject(self, scope: Scope) -> str | None:
        state = getattr(scope.get("app"), "state", None)
        verifier = getattr(state, "verifier", None)
        authorization = header(scope, b"authorization")
        if authorization is None:
            # The web app's session cookie: its person's budget, not the client address's.
            return await self._session_subject(scope, getattr(state, "web_sessions", None))
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token.strip() or verifier is None:
            return None
        if token.strip().startswith(PERSONAL_TOKEN_PREFIX):
            # A personal API token counts like a user; it is checked (and refused if invalid) by the app.
            return "pat:" + hashlib.sha256(token.strip().encode()).hexdigest()[:32]
        try:
            principal = await verifier.verify(token.strip())
        except Exception:  # invalid, expired, or keys unavailable: the app answers it; count as anonymous
            return None
        return str(principal.subject)

    async def _session_subject(self, scope: Scope, sessions: SessionStore | None) -> str | None:
        cookie = header(scope, b"cookie")
        if cookie is None or sessions is None:
            return None
        session_id = cookie_parser(cookie.decode("latin-1")).get(SESSION_COOKIE)
        if not session_id:
            return None
        try:
            session = await sessions.current(session_id)
            if session is None:
                return None
            principal = await sessions.verifier.verify(session.access_token)
        except Exception:  # as for tokens: the app answers it; count as anonymous
            return None
        return str(principal.subject)

    async def _take(self, checks: list[tuple[Policy, str]]) -> tuple[Policy, int] | None:
        """Count the request against each budget; the first spent budget and its reset delay, or None."""
        for policy, key in checks:
            retry_after = await self.budgets.take(policy, key)
            if retry_after is not None:
                return policy, retry_after
        return None
