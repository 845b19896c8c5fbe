"""The application factory: routers, middleware, error handlers, and process-wide resources."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from redis.asyncio import Redis

from backend.access.router import router as access_router
from backend.clients.router import router as clients_router
from backend.core import jobs
from backend.core.auth import JwksCache, TokenVerifier
from backend.core.authz import listen_for_reload
from backend.core.db import Database
from backend.core.errors import install_error_handlers
from backend.core.http import BodyLimitMiddleware, SecurityHeadersMiddleware
from backend.core.logging import RequestContextMiddleware, configure_logging
from backend.core.outbox import Relay
from backend.core.ratelimit import RateLimitMiddleware
from backend.core.storage import create_storage
from backend.decisions.router import router as decisions_router
from backend.diagnostics.router import router as diagnostics_router
from backend.events.router import router as events_router
from backend.health.router import router as health_router
from backend.identity.router import router as identity_router
from backend.members.keycloak import IdentityProvider
from backend.members.router import router as members_router
from backend.notes.router import router as notes_router
from backend.orgs.router import router as orgs_router
from backend.projects.router import router as projects_router
from backend.settings import Settings, get_settings
from backend.tenancy import guard
from backend.tracking.router import router as tracking_router
from backend.work.router import router as work_router

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(level=settings.log_level, json=settings.json_logs)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        http = httpx.AsyncClient(timeout=settings.keycloak_timeout_seconds)
        app.state.settings = settings
        app.state.db = Database(settings)
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
        # Back-channel logouts: loaded now, then kept current from Redis pub/sub (backend/core/revocation.py).
        revocations = app.state.verifier.revocations
        with contextlib.suppress(Exception):
            await asyncio.wait_for(revocations.sync(app.state.redis), 2.0)
        # Its own connection without a read timeout: a quiet channel must not look like a dead Redis.
        pubsub_redis = Redis.from_url(settings.redis_url, socket_connect_timeout=2, health_check_interval=30)
        revocation_listener = asyncio.create_task(revocations.listen(pubsub_redis))
        app.state.idp = IdentityProvider(settings)
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

    app = FastAPI(
        title="Worktime API",
        version="0.1.0",
        summary="Multi-tenant work and time tracking behind Keycloak",
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        swagger_ui_oauth2_redirect_url="/api/docs/oauth2-redirect",
        swagger_ui_init_oauth={
            "clientId": settings.keycloak_docs_client_id,
            "usePkceWithAuthorizationCodeGrant": True,
            "scopes": "openid profile email",
        },
    )
    # The last one added runs first: security headers > request context > CORS > rate limits > body limits.
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_body_bytes,
        upload_pattern=settings.upload_path_pattern,
        public_paths=frozenset({f"{API_PREFIX}/auth/backchannel-logout"}),  # Keycloak calls it, token in the body
    )
    if settings.rate_limits_on:
        app.add_middleware(RateLimitMiddleware, settings=settings)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After", "RateLimit", "RateLimit-Policy", "Location"],
            max_age=600,
        )
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(
        SecurityHeadersMiddleware,
        hsts=settings.env == "production",
        connect_origins=[settings.keycloak_issuer],
    )
    install_error_handlers(app)

    app.include_router(health_router)
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
        diagnostics_router,
    ):
        app.include_router(router, prefix=API_PREFIX)

    app.openapi = lambda: _openapi(app, settings)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """Declare Keycloak's authorization-code flow so Swagger UI can log a person in (PKCE, public client)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    realm = settings.keycloak_issuer
    schema.setdefault("components", {})["securitySchemes"] = {
        "keycloak": {
            "type": "oauth2",
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": f"{realm}/protocol/openid-connect/auth",
                    "tokenUrl": f"{realm}/protocol/openid-connect/token",
                    "scopes": {"openid": "OpenID Connect", "profile": "Profile", "email": "Email"},
                }
            },
        }
    }
    for path, operations in schema.get("paths", {}).items():
        if path.startswith(API_PREFIX):
            for operation in operations.values():
                operation["security"] = [{"keycloak": []}]
    app.openapi_schema = schema
    return schema
