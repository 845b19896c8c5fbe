"""``make bench``: per-request overhead of authentication, tenant context and authorization.

Drives the in-process ASGI app (no network hop) with a real Keycloak token against the real Postgres,
and compares an authenticated, tenant-bound, authorized endpoint with an unauthenticated one.
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

import httpx

from backend.app import create_app
from backend.core import authz
from backend.seed import demo_org_id
from backend.settings import Settings

WARMUP = 200
ROUNDS = 2000
BENCH_ORGS, MEMBERS_PER_ORG, PROJECTS_PER_ORG, PROJECT_MEMBERS = 10_000, 10, 5, 3
ROLES = ["owner", "admin", "manager", "member", "member", "member", "member", "member", "auditor", "member"]


async def load_scale_data(superuser_dsn: str) -> str:
    """10,000 organizations x 10 members x 5 projects (3 members each), bulk-copied as the superuser
    (loading is not what is measured). Idempotent: a second run finds the data and keeps it."""
    import asyncpg

    connection = await asyncpg.connect(superuser_dsn.rsplit("/", 1)[0] + "/worktime")
    try:
        existing = await connection.fetchval("SELECT count(*) FROM organizations WHERE slug LIKE 'bench-%'")
        if existing >= BENCH_ORGS:
            return f"scale data present ({existing} organizations)"
        started = time.perf_counter()
        orgs = [(uuid.uuid4(), f"bench-{n}", f"Bench {n}") for n in range(BENCH_ORGS)]
        users: list[tuple[uuid.UUID, str]] = []
        memberships: list[tuple[uuid.UUID, uuid.UUID, str]] = []
        projects: list[tuple[uuid.UUID, uuid.UUID, str]] = []
        assignments: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID, str]] = []
        for org_id, _, _ in orgs:
            people = [uuid.uuid4() for _ in range(MEMBERS_PER_ORG)]
            users.extend((person, f"{person}@bench.test") for person in people)
            memberships.extend((org_id, person, ROLES[i]) for i, person in enumerate(people))
            for p in range(PROJECTS_PER_ORG):
                project_id = uuid.uuid4()
                projects.append((project_id, org_id, f"Project {p}"))
                assignments.extend(
                    (org_id, project_id, people[(p + k) % MEMBERS_PER_ORG], ["lead", "contributor", "viewer"][k])
                    for k in range(PROJECT_MEMBERS)
                )
        async with connection.transaction():
            await connection.copy_records_to_table("users", records=users, columns=["id", "email"])
            await connection.copy_records_to_table("organizations", records=orgs, columns=["id", "slug", "name"])
            await connection.copy_records_to_table(
                "memberships", records=memberships, columns=["org_id", "user_id", "role"]
            )
            await connection.copy_records_to_table("projects", records=projects, columns=["id", "org_id", "name"])
            await connection.copy_records_to_table(
                "project_memberships", records=assignments, columns=["org_id", "project_id", "user_id", "role"]
            )
        await connection.execute("ANALYZE")
        return (
            f"loaded {len(orgs)} organizations, {len(memberships)} memberships, {len(projects)} projects, "
            f"{len(assignments)} project roles in {time.perf_counter() - started:.1f} s"
        )
    finally:
        await connection.close()


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
    superuser = os.environ.get("WORKTIME_DATABASE_SUPERUSER_URL")
    print(await load_scale_data(superuser) if superuser else "WORKTIME_DATABASE_SUPERUSER_URL unset: no scale data")
    app = create_app(settings.model_copy(update={"log_level": "WARNING"}))
    headers = {"Authorization": f"Bearer {await _token(settings)}"}
    org = demo_org_id("acme")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            created = await http.post(
                f"/api/v1/orgs/{org}/projects", json={"name": f"Bench {uuid.uuid4().hex[:6]}"}, headers=headers
            )
            created.raise_for_status()
            project = f"/api/v1/orgs/{org}/projects/{created.json()['id']}"
            endpoints = [
                ("GET /health/live (no auth)", "/health/live", {}),
                ("GET /api/v1/me (token + user)", "/api/v1/me", headers),
                ("GET /orgs/{id} (token+tenant+authz)", f"/api/v1/orgs/{org}", headers),
                ("GET /orgs/{id}/projects/{id} (+project)", project, headers),
            ]
            rows: list[tuple[str, list[float]]] = []
            for name, url, sent in endpoints:

                def call(url: str = url, sent: dict[str, str] = sent) -> Awaitable[httpx.Response]:
                    return http.get(url, headers=sent)

                rows.append((name, await _measure(call)))

    print(f"requests per endpoint: {ROUNDS} (after {WARMUP} warm-up); in-process ASGI; real token and Postgres")
    print(f"{'endpoint':<44}{'p50 ms':>10}{'p99 ms':>10}{'added p50 ms':>14}")
    base_p50 = _percentiles(rows[0][1])[0]
    for index, (name, samples) in enumerate(rows):
        p50, p99 = _percentiles(samples)
        added = f"{p50 - base_p50:.3f}" if index else "-"
        print(f"{name:<44}{p50:>10.3f}{p99:>10.3f}{added:>14}")
    me_p50, org_p50 = _percentiles(rows[1][1])[0], _percentiles(rows[2][1])[0]
    print(f"authorization (org guard + decision) on top of authentication: {org_p50 - me_p50:.3f} ms p50")
    round_trip = await _postgres_round_trip(settings)
    print(f"context: one Postgres round trip (SELECT 1 on an open connection): p50 {round_trip:.3f} ms;")
    print("         an authenticated request makes four (BEGIN, tenant binding, lookup, COMMIT)")
    decision_p50, decision_p99 = _decision_latency()
    print(f"casbin decision, memoised: p50 {decision_p50:.2f} us, p99 {decision_p99:.2f} us")
    print(f"casbin decision, plain enforce(): p50 {_cold_decision_latency():.2f} us")
    return 0


async def _postgres_round_trip(settings: Settings, rounds: int = 1000) -> float:
    import asyncpg

    connection = await asyncpg.connect(settings.database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        samples = []
        for _ in range(rounds):
            started = time.perf_counter()
            await connection.fetchval("SELECT 1")
            samples.append((time.perf_counter() - started) * 1000)
    finally:
        await connection.close()
    return float(statistics.median(samples))


def _cold_decision_latency(rounds: int = 2000) -> float:
    roles, permissions, samples = authz.roles(), authz.permissions(), []
    for n in range(rounds):
        resource, _, action = permissions[n % len(permissions)].partition(":")
        started = time.perf_counter_ns()
        authz.enforcer().enforce(roles[n % len(roles)], resource, action)
        samples.append((time.perf_counter_ns() - started) / 1000)
    return float(statistics.median(samples))
