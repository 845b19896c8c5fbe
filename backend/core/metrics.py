"""Prometheus metrics: what the platform counts, the HTTP middleware that times requests, the job
middleware that times actors, and the ``/metrics`` endpoint (docs/operations.md "Metrics" lists them).

Multi-process mode: with ``PROMETHEUS_MULTIPROC_DIR`` set (before this module is imported, as
prometheus-client reads it at import time) every process writes its samples to files in that directory
and a scrape of any API process adds up all of them: several uvicorn workers, and workers on the same
host. ``python -m backend serve --workers N`` sets a fresh directory itself when none is given.

Per-request cost is one dictionary look-up and one histogram observation: the label children are
cached here, so prometheus-client's own lock around ``labels()`` is taken once per route and status.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import threading
import time
from typing import Any

import dramatiq
import structlog
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Middleware
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Scope

log = structlog.get_logger(__name__)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

# Latency buckets from 2.5 ms (a cached read) to 10 s (the statement timeout's order of magnitude).
_HTTP_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Histogram(
    "worktime_http_request_duration_seconds",
    "HTTP requests by method, route template and status: latency (its _count is the request count)",
    ("method", "route", "status"),
    buckets=_HTTP_BUCKETS,
)
AUTH_FAILURES = Counter(
    "worktime_auth_failures",
    "Requests refused with 401, by reason (missing, malformed, invalid, expired, revoked)",
    ("reason",),
)
AUTHZ_DENIALS = Counter(
    "worktime_authz_denials",
    "Requests refused with 403, by the permission the policy denied ('rule' for a service's own rule)",
    ("permission",),
)
RATE_LIMITED = Counter("worktime_rate_limited", "Requests refused with 429 by the rate limiter, by budget", ("policy",))
JOBS = Counter(
    "worktime_jobs", "Jobs finished by workers, by actor and outcome (succeeded, failed)", ("actor", "outcome")
)
JOB_DURATION = Histogram(
    "worktime_job_duration_seconds", "How long a job ran, by actor", ("actor",), buckets=_JOB_BUCKETS
)
JOBS_RUNNING = Gauge("worktime_jobs_running", "Jobs running now, by actor", ("actor",), multiprocess_mode="livesum")
OUTBOX_PENDING = Gauge(
    "worktime_outbox_pending",
    "Outbox rows not yet handed to the broker (read at scrape time)",
    multiprocess_mode="mostrecent",
)
OUTBOX_OLDEST = Gauge(
    "worktime_outbox_oldest_age_seconds",
    "Age of the oldest unsent outbox row (0 when none; read at scrape time)",
    multiprocess_mode="mostrecent",
)
JWKS_REFRESHES = Counter(
    "worktime_jwks_refreshes", "Fetches of the realm's signing keys, by outcome (ok, failed)", ("outcome",)
)
DB_POOL_IN_USE = Gauge(
    "worktime_db_pool_connections_in_use",
    "Database connections checked out of the pools, by role",
    ("role",),
    multiprocess_mode="livesum",
)


def registry() -> CollectorRegistry:
    """What a scrape reads: every process's files in multi-process mode, this process's metrics otherwise."""
    if not MULTIPROCESS:
        return REGISTRY
    collected = CollectorRegistry()
    multiprocess.MultiProcessCollector(collected)  # type: ignore[no-untyped-call]
    return collected


def process_exiting() -> None:
    """Drops this process's live gauges (jobs running, pool in use) from the multi-process files."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


# --- HTTP -------------------------------------------------------------------------------------------

_children: dict[tuple[str, str, int], Any] = {}


def _observe(method: str, route: str, status: int, seconds: float) -> None:
    key = (method, route, status)
    child = _children.get(key)
    if child is None:
        child = _children[key] = HTTP_REQUESTS.labels(method, route, str(status))
    child.observe(seconds)


class RouteTemplates:
    """The route *template* of a request (``/api/v1/orgs/{org_id}``), never the raw path, so the series
    stay few. Requests no route matched, and those the edge answered before routing (a missing token, a
    body too large, a rate limit), share ``route="unrouted"``. Found once per route and remembered."""

    def __init__(self, prefixes: tuple[str, ...] = ()) -> None:
        # FastAPI keeps an included router's routes with their own path (no include prefix) in the scope;
        # the prefix is found once per route, from the prefixes the app includes routers under.
        self.prefixes = prefixes
        self._templates: dict[int, str] = {}

    def of(self, scope: Scope) -> str:
        route = scope.get("route")  # the router writes the matched route into this same scope
        if route is None:
            return "unrouted"
        return self._templates.get(id(route)) or self._template(route, scope)

    def _template(self, route: Any, scope: Scope) -> str:
        path: str = getattr(route, "path", "") or "unrouted"
        regex = getattr(route, "path_regex", None)
        if regex is not None and not regex.match(scope["path"]):
            for prefix in self.prefixes:
                if scope["path"].startswith(prefix) and regex.match(scope["path"][len(prefix) :]):
                    path = prefix + path
                    break
        self._templates[id(route)] = path
        return path


def observe_request(scope: Scope, template: str, status: int, seconds: float) -> None:
    method = scope["method"] if scope["method"] in _METHODS else "other"
    _observe(method, template, status, seconds)


# --- refusals (called where they are decided) ----------------------------------------------------------


def auth_failed(reason: str) -> None:
    AUTH_FAILURES.labels(reason).inc()


def authz_denied(permission: str) -> None:
    AUTHZ_DENIALS.labels(permission).inc()


def rate_limited(policy: str) -> None:
    RATE_LIMITED.labels(policy).inc()


def jwks_refreshed(*, ok: bool) -> None:
    JWKS_REFRESHES.labels("ok" if ok else "failed").inc()


# --- database pools -------------------------------------------------------------------------------------


def observe_pool(engine: AsyncEngine) -> None:
    """Counts the engine's checked-out connections (two pool events per transaction)."""
    gauge = DB_POOL_IN_USE.labels(engine.url.username or "unknown")
    event.listen(engine.sync_engine.pool, "checkout", lambda *_: gauge.inc())
    event.listen(engine.sync_engine.pool, "checkin", lambda *_: gauge.dec())


_OUTBOX_STATS = text("SELECT pending, oldest_age_seconds FROM outbox_stats()")


async def refresh_outbox(engine: AsyncEngine) -> None:
    """Reads the outbox backlog (a SECURITY DEFINER function, migration 0500); a failure keeps the last
    values and is logged, the scrape still answers."""
    try:
        async with engine.connect() as connection:
            row = (await asyncio.wait_for(connection.execute(_OUTBOX_STATS), 2.0)).one()
    except Exception as exc:  # the database being down must not fail the scrape that would show it
        log.warning("metrics_outbox_unavailable", error=type(exc).__name__)
        return
    OUTBOX_PENDING.set(row.pending)
    OUTBOX_OLDEST.set(row.oldest_age_seconds)


# --- the endpoint --------------------------------------------------------------------------------------


def allowed(authorization: str | None, *, token: str, env: str) -> bool:
    """With a token set, a scrape must bear it. Without one, /metrics is open in development and test only."""
    if not token:
        return env in {"development", "test"}
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


async def endpoint(request: Request) -> Response:
    settings = request.app.state.settings
    if not allowed(request.headers.get("authorization"), token=settings.metrics_token, env=settings.env):
        # 404, not 401: an unguarded production server does not advertise that it has metrics.
        return PlainTextResponse("Not Found", status_code=404)
    await refresh_outbox(request.app.state.db.engine)
    return Response(generate_latest(registry()), media_type=CONTENT_TYPE_LATEST)


def serve_separately(port: int) -> None:
    """The workers' metrics on their own port (no HTTP app of theirs to mount it in)."""
    start_http_server(port, registry=registry())


# --- jobs ----------------------------------------------------------------------------------------------


class JobMetrics(Middleware):
    """Counts and times every job per actor. dramatiq calls before/after on the thread running the job."""

    def __init__(self) -> None:
        self._local = threading.local()

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:  # noqa: ARG002
        JOBS_RUNNING.labels(message.actor_name).inc()
        self._local.started = time.perf_counter()

    def after_process_message(
        self,
        broker: dramatiq.Broker,  # noqa: ARG002
        message: MessageProxy,
        *,
        result: Any = None,  # noqa: ARG002
        exception: BaseException | None = None,
    ) -> None:
        started = getattr(self._local, "started", None)
        actor = message.actor_name
        JOBS_RUNNING.labels(actor).dec()
        if started is not None:
            JOB_DURATION.labels(actor).observe(time.perf_counter() - started)
            self._local.started = None
        JOBS.labels(actor, "failed" if exception is not None else "succeeded").inc()
