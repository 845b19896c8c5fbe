"""The application factory: routers, middleware, error handlers, and process-wide resources."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from redis.asyncio import Redis

from backend.access.router import router as access_router
from backend.clients.router import router as clients_router
from backend.core import jobs, metrics, tracing
from backend.core.auth import JwksCache, TokenVerifier
from backend.core.authz import listen_for_reload
from backend.core.db import Database
from backend.core.docs_ui import install_docs
from backend.core.edge import EdgeMiddleware
from backend.core.errors import install_error_handlers
from backend.core.http import BodyLimitMiddleware, LocationMiddleware
from backend.core.idempotency import IdempotencyMiddleware
from backend.core.logging import configure_logging
from backend.core.openapi import postprocess
from backend.core.outbox import Relay
from backend.core.ratelimit import RateLimitMiddleware
from backend.core.storage import create_storage
from backend.core.websession import SessionStore
from backend.decisions.router import router as decisions_router
from backend.diagnostics.router import router as diagnostics_router
from backend.events.router import router as events_router
from backend.exports.router import router as exports_router
from backend.health.router import router as health_router
from backend.identity.router import router as identity_router
from backend.integrations.router import feed_router as calendar_feed_router
from backend.integrations.router import router as integrations_router
from backend.members.keycloak import IdentityProvider
from backend.members.router import router as members_router
from backend.notes.router import router as notes_router
from backend.orgs.router import router as orgs_router
from backend.projects.router import router as projects_router
from backend.reminders.router import router as reminders_router
from backend.reports.router import router as reports_router
from backend.reports.router import shared_router as shared_reports_router
from backend.scim.protocol import ScimError, handle_scim_error
from backend.scim.router import router as scim_token_router
from backend.scim.router import scim_router
from backend.settings import Settings, get_settings
from backend.sso import service as sso_service
from backend.sso.router import router as sso_router
from backend.tenancy import guard
from backend.tenancy.context import install_sso_login
from backend.tenancy.directory import Directory
from backend.tokens.router import router as tokens_router
from backend.tracking import service as tracking_service
from backend.tracking.router import router as tracking_router
from backend.web.auth import router as web_auth_router
from backend.web.join import router as web_join_router
from backend.web.pages import STATIC_DIR
from backend.web.pages import router as web_pages_router
from backend.webhooks.router import router as webhooks_router
from backend.work.router import router as work_router
from backend.worktime import service as worktime_service
from backend.worktime.router import router as worktime_router

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None, *, span_exporter: SpanExporter | None = None) -> FastAPI:
    """The API. ``span_exporter`` turns tracing on with that exporter (tests); otherwise tracing is on only
    when ``WORKTIME_OTEL_ENDPOINT`` is set (backend/core/tracing.py)."""
    settings = settings or get_settings()
    configure_logging(level=settings.log_level, json=settings.json_logs)
    traced: tracing.Tracing | None = None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        http = httpx.AsyncClient(timeout=settings.keycloak_timeout_seconds)
        app.state.settings = settings
        app.state.db = Database(settings)
        if traced is not None:
            traced.instrument_engine(app.state.db.engine)
        app.state.redis = Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        app.state.jwks = JwksCache(
            settings.keycloak_jwks_url,
            http,
            max_age_seconds=settings.jwks_cache_seconds,
            unknown_kid_cooldown_seconds=settings.jwks_unknown_kid_cooldown_seconds,
            stale_wait_seconds=settings.jwks_stale_wait_seconds,
            unknown_kid_wait_seconds=settings.jwks_unknown_kid_wait_seconds,
        )
        app.state.verifier = TokenVerifier(settings, app.state.jwks)
        app.state.web_sessions = SessionStore(settings, app.state.redis, http, app.state.verifier)
        # Back-channel logouts: loaded now, then kept current from Redis pub/sub (backend/core/revocation.py).
        revocations = app.state.verifier.revocations
        with contextlib.suppress(Exception):
            await asyncio.wait_for(revocations.sync(app.state.redis), 2.0)
        # Its own connection without a read timeout: a quiet channel must not look like a dead Redis.
        pubsub_redis = Redis.from_url(settings.redis_url, socket_connect_timeout=2, health_check_interval=30)
        revocation_listener = asyncio.create_task(revocations.listen(pubsub_redis))
        app.state.idp = IdentityProvider(settings)
        app.state.directory = Directory(app.state.idp.admin)  # Keycloak Organizations (one admin client)
        app.state.storage = create_storage(settings)
        # Policy reloads: `python -m backend authz reload` reaches every process; SIGHUP this one.
        reloader = asyncio.create_task(listen_for_reload(app.state.redis, guard.policy.reload))
        # Jobs committed to the outbox reach Redis from here, off the event loop (backend/core/outbox.py).
        relay = None
        if settings.outbox_relay_enabled:
            app.state.outbox = Relay(
                app.state.db.engine,
                jobs.enqueue,
                listen_dsn=settings.database_url.replace("postgresql+asyncpg://", "postgresql://", 1),
                batch=settings.outbox_batch_size,
                poll_seconds=settings.outbox_poll_seconds,
                send_timeout_seconds=settings.outbox_send_timeout_seconds,
                probe=jobs.ping_broker,
            )
            relay = asyncio.create_task(app.state.outbox.run())
        with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals off the main thread
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, guard.policy.reload)
        try:
            yield
        finally:
            reloader.cancel()
            revocation_listener.cancel()
            await asyncio.wait({reloader, revocation_listener}, timeout=2.0)
            if relay is not None:
                relay.cancel()
                await asyncio.wait({relay}, timeout=2.0)
            if budgets := getattr(app.state, "rate_budgets", None):
                await budgets.close()
            await app.state.db.dispose()
            await app.state.redis.aclose()
            await pubsub_redis.aclose()
            await http.aclose()
            if traced is not None:
                traced.shutdown()
            metrics.process_exiting()

    # An SSO token's claims (just-in-time membership, claim-to-role mappings) are applied on the request
    # path when they changed; the tenancy layer calls the SSO domain through this hook.
    install_sso_login(sso_service.apply_login)

    app = FastAPI(
        title="Worktime API",
        version="0.1.0",
        summary="Multi-tenant work and time tracking behind Keycloak",
        lifespan=lifespan,
        docs_url=None,  # served from vendored assets by install_docs, never from a CDN
        redoc_url=None,
        openapi_url="/api/openapi.json",
        # FastAPI's native OpenTelemetry asks the global providers on every request; ours are off.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    # The last one added runs first: the edge > CORS > rate limits > body limits
    # > idempotency keys > Location on 201.
    app.add_middleware(LocationMiddleware)
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_body_bytes,
        upload_pattern=settings.upload_path_pattern,
        # Keycloak calls back-channel logout (token in the body); a calendar feed's secret URL is its credential;
        # home-realm discovery answers before anyone signs in (rate-limited per address like every anonymous call);
        # a shared report's secret link is its credential too.
        public_paths=frozenset(
            {
                f"{API_PREFIX}/auth/backchannel-logout",
                f"{API_PREFIX}/calendar-feeds/",
                f"{API_PREFIX}/sso/discover",
                f"{API_PREFIX}/shared-reports/",
            }
        ),
    )
    if settings.rate_limits_on:
        app.add_middleware(RateLimitMiddleware, settings=settings)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID", "Idempotency-Key", "If-Match"],
            expose_headers=[
                "X-Request-ID",
                "Retry-After",
                "RateLimit",
                "RateLimit-Policy",
                "Location",
                "ETag",
                "Idempotent-Replayed",
            ],
            max_age=600,
        )
    # Outermost: request id and log context, security headers, the last-resort 500, metrics and the access
    # line, for every answer (the edge's 401, 413 and 429 too).
    app.add_middleware(
        EdgeMiddleware,
        hsts=settings.env == "production",
        connect_origins=[settings.keycloak_issuer],
        prefixes=(API_PREFIX,),
    )
    install_error_handlers(app)
    install_docs(
        app,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        oauth2_redirect_url="/api/docs/oauth2-redirect",
        init_oauth={
            "clientId": settings.keycloak_docs_client_id,
            "usePkceWithAuthorizationCodeGrant": True,
            "scopes": "openid profile email",
        },
    )

    app.include_router(health_router)
    app.add_route("/metrics", metrics.endpoint, methods=["GET"], include_in_schema=False)
    for router in (
        projects_router,
        work_router,
        tracking_router,
        orgs_router,
        identity_router,
        members_router,
        clients_router,
        notes_router,
        events_router,
        decisions_router,
        access_router,
        tokens_router,
        diagnostics_router,
        reports_router,
        shared_reports_router,
        exports_router,
        webhooks_router,
        reminders_router,
        integrations_router,
        calendar_feed_router,
        sso_router,
        scim_token_router,
        worktime_router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    # The timesheet shows the week's working time; worktime reads tracked time through tracking's
    # service, so tracking importing worktime would be a cycle: it is handed the function instead.
    tracking_service.provide_week_worktime(worktime_service.week_worktime)
    # SCIM 2.0 for identity providers (docs/sso.md): its own prefix, bearer and error format.
    app.include_router(scim_router)
    app.add_exception_handler(ScimError, handle_scim_error)

    # The web app: sign-in (BFF), pages and their static files (after the API, so /api wins).
    app.include_router(web_auth_router)
    app.include_router(web_join_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(web_pages_router)

    app.openapi = lambda: _openapi(app, settings)  # type: ignore[method-assign]
    if settings.otel_endpoint or span_exporter is not None:
        traced = tracing.start(app, settings, span_exporter)
    return app


API_DESCRIPTION = """\
Worktime is a multi-tenant work and time platform. Each organization is a tenant: its id is in the path
(`/api/v1/orgs/{org_id}/...`) and non-members get a 404 for it.

**Authentication.** Every `/api/v1` call needs `Authorization: Bearer <token>`: an access token issued by
Keycloak (authorization code with PKCE in a browser, as Swagger UI does, or any OAuth2 client), or a
personal API token. Tokens are verified on every request.

**Errors** are RFC 9457 `application/problem+json` documents (`Problem`; 422s are `ValidationProblem`
with an `errors` array). Every response carries `X-Request-ID`; quote it when reporting a problem.
"""

TAG_DESCRIPTIONS = {
    "health": "Liveness and readiness probes; no token needed.",
    "identity": "Who you are, as the platform sees you.",
    "organizations": "Organizations (tenants): found, list, read, rename, archive, and their audit trail.",
    "members": "Members of an organization: invitations, roles, removal, and your own invitations.",
    "projects": "Projects inside an organization, and their project roles.",
    "tasks": "Tasks of a project, numbered per project (`WEB-42`).",
    "comments": "Markdown comments on tasks.",
    "attachments": "Files attached to tasks and comments (streamed uploads, sniffed type).",
    "time tracking": "Time entries, the running timer, timesheets, rates, period locks and imports.",
    "clients": "The organization's clients.",
    "notes": "Notes, private to their author unless shared.",
    "calendar": "Events with attendees, RSVP and recurrence.",
    "decisions": "Decisions: proposed, accepted or rejected, superseded; immutable once decided.",
    "permissions": "What your roles allow here, and why.",
    "personal tokens": "Personal API tokens (`wt_pat_…`): per organization, role-capped, expiring, revocable.",
    "diagnostics": "Round trips through the background job queue.",
    "webhooks": "Outgoing webhooks: endpoints, signed (Standard Webhooks) and retried deliveries, the delivery log.",
    "reminders": "Reminder rules (admins) and your notifications: no time logged, a forgotten timer, timesheets.",
    "integrations": "Connectors, and your personal iCalendar feed at a secret, revocable URL.",
    "worktime": "Working-time contracts, holiday calendars, absences and the overtime balance.",
    "single sign-on": "Enterprise SSO: the organization's identity providers (OIDC, SAML) through Keycloak.",
}

# Request examples for the main create bodies, by operationId.
REQUEST_EXAMPLES: dict[str, Any] = {
    "createOrganization": {"name": "Acme Inc.", "slug": "acme-inc"},
    "createProject": {"name": "Website relaunch", "key": "WEB", "color": "#3366ff", "billable": True},
    "createTask": {"title": "Draft the home page", "priority": "high", "labels": ["design"]},
    "createTimeEntry": {
        "project_id": "0b5c3d6e-1f2a-4b3c-8d4e-5f6a7b8c9d0e",
        "start_at": "2026-01-06T09:00:00+01:00",
        "end_at": "2026-01-06T10:30:00+01:00",
        "description": "Kick-off meeting",
    },
    "startTimer": {"project_id": "0b5c3d6e-1f2a-4b3c-8d4e-5f6a7b8c9d0e", "description": "Reviewing designs"},
    "createClient": {"name": "Initech", "contact_name": "Bill Lumbergh", "contact_email": "bill@initech.test"},
    "inviteMember": {"email": "new.person@example.com", "role": "member"},
}


def _openapi(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """The OpenAPI document: FastAPI's, post-processed once (operation ids, summaries, descriptions,
    problem+json errors per route, examples, tags) and with Keycloak's authorization-code flow declared
    so Swagger UI can log a person in (PKCE, public client)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=API_DESCRIPTION,
        routes=app.routes,
        servers=[{"url": "/", "description": "This deployment"}],
    )
    realm = settings.keycloak_issuer
    schema.setdefault("components", {})["securitySchemes"] = {
        "keycloak": {
            "type": "oauth2",
            "description": "Keycloak access tokens (authorization code with PKCE for browsers).",
            "flows": {
                "authorizationCode": {
                    # The platform's email-first page, which sends on to Keycloak (to an SSO provider
                    # when the address's domain says so); relative, so it is this deployment's.
                    "authorizationUrl": f"{(settings.web_base_url or '').rstrip('/')}/auth/authorize",
                    "tokenUrl": f"{realm}/protocol/openid-connect/token",
                    "scopes": {"openid": "OpenID Connect", "profile": "Profile", "email": "Email"},
                }
            },
        }
    }
    postprocess(
        schema,
        routes=app.routes,
        api_prefix=API_PREFIX,
        security=[{"keycloak": []}],
        tag_descriptions=TAG_DESCRIPTIONS,
        request_examples=REQUEST_EXAMPLES,
    )
    app.openapi_schema = schema
    return schema
