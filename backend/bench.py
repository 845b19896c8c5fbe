"""``make bench``: per-request overhead of authentication, tenant context and authorization.

Drives the in-process ASGI app (no network hop) with a real Keycloak token against the real Postgres,
and compares an authenticated, tenant-bound, authorized endpoint with an unauthenticated one.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable

import httpx

from backend.app import create_app
from backend.core import authz
from backend.seed import demo_org_id
from backend.settings import Settings

WARMUP = 200
ROUNDS = 2000


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]


async def _measure(call: Callable[[], Awaitable[object]], rounds: int = ROUNDS) -> list[float]:
    for _ in range(WARMUP):
        await call()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def _token(settings: Settings) -> str:
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            f"{settings.keycloak_url}/realms/{settings.keycloak_realm}/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": "worktime-cli",
                "username": "alice",
                "password": "worktime-demo",
            },
        )
        response.raise_for_status()
        return str(response.json()["access_token"])


def _decision_latency(rounds: int = 100_000) -> tuple[float, float]:
    """A Casbin decision (role -> permission with inheritance), in microseconds."""
    roles, permissions = authz.roles(), authz.permissions()
    samples = []
    for n in range(rounds):
        role, permission = roles[n % len(roles)], permissions[n % len(permissions)]
        started = time.perf_counter_ns()
        authz.is_allowed(role, permission)
        samples.append((time.perf_counter_ns() - started) / 1000)
    return _percentiles(samples)


async def main(settings: Settings) -> int:
    app = create_app(settings.model_copy(update={"log_level": "WARNING"}))
    token = await _token(settings)
    headers = {"Authorization": f"Bearer {token}"}
    org = demo_org_id("acme")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            baseline = await _measure(lambda: http.get("/health/live"))
            me = await _measure(lambda: http.get("/api/v1/me", headers=headers))
            org_read = await _measure(lambda: http.get(f"/api/v1/orgs/{org}", headers=headers))
    base_p50, base_p99 = _percentiles(baseline)
    me_p50, me_p99 = _percentiles(me)
    org_p50, org_p99 = _percentiles(org_read)
    decision_p50, decision_p99 = _decision_latency()

    print(f"requests per endpoint: {ROUNDS} (after {WARMUP} warm-up), in-process ASGI, real Postgres")
    print(f"{'endpoint':<44}{'p50 ms':>10}{'p99 ms':>10}{'added p50 ms':>14}")
    print(f"{'GET /health/live (no auth)':<44}{base_p50:>10.3f}{base_p99:>10.3f}{'-':>14}")
    print(f"{'GET /api/v1/me (token + user)':<44}{me_p50:>10.3f}{me_p99:>10.3f}{me_p50 - base_p50:>14.3f}")
    print(
        f"{'GET /api/v1/orgs/{id} (token+tenant+authz)':<44}{org_p50:>10.3f}{org_p99:>10.3f}{org_p50 - base_p50:>14.3f}"
    )
    print(f"casbin decision: p50 {decision_p50:.2f} us, p99 {decision_p99:.2f} us")
    return 0
