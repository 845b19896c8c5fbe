"""Liveness and readiness. Readiness names each dependency and answers 503 when the API cannot serve.

Keycloak is only *degraded* while its JWKS cannot be fetched but keys are cached: tokens signed with
those keys still verify locally, so taking the instance out of rotation would turn a Keycloak outage
into a whole-API outage. Without any cached key it is failing (no token can be verified)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from redis.asyncio import Redis
from sqlalchemy import text

from backend.core.auth import JwksCache
from backend.core.db import Database
from backend.core.errors import DependencyUnavailable, problem_response

router = APIRouter(prefix="/health", tags=["health"])

CHECK_TIMEOUT_SECONDS = 3.0


@router.get("/live", summary="The process is up")
async def live() -> dict[str, str]:
    return {"status": "ok"}


async def _check(probe: Callable[[], Awaitable[Any]]) -> str:
    try:
        await asyncio.wait_for(probe(), CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return "timeout"
    except Exception as exc:  # a readiness probe reports every failure, whatever its type
        return f"error: {type(exc).__name__}"
    return "ok"


@router.get("/ready", summary="Postgres and Redis are reachable and tokens can be verified", response_model=None)
async def ready(request: Request) -> JSONResponse | dict[str, Any]:
    db: Database = request.app.state.db
    redis: Redis = request.app.state.redis
    jwks: JwksCache = request.app.state.jwks

    async def postgres() -> None:
        async with db.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def redis_ping() -> None:
        await redis.ping()

    names = ["postgres", "redis", "keycloak"]
    results = await asyncio.gather(_check(postgres), _check(redis_ping), _check(jwks.check_reachable))
    checks = dict(zip(names, results, strict=True))
    degraded = ["keycloak"] if checks["keycloak"] != "ok" and jwks.has_keys() else []
    failing = [name for name, result in checks.items() if result != "ok" and name not in degraded]
    if failing:
        return problem_response(
            503,
            type_slug=DependencyUnavailable.type_slug,
            title="Not ready",
            detail=f"Unavailable: {', '.join(failing)}",
            instance=request.url.path,
            failing=failing,
            degraded=degraded,
            checks=checks,
        )
    if degraded:
        return {"status": "degraded", "degraded": degraded, "checks": checks}
    return {"status": "ok", "checks": checks}
