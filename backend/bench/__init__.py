"""``make bench``: the real app under HTTP load next to bare baselines, in the same run, on the same Postgres.

Each app (the real one and two bare FastAPI apps, see ``baselines.py``) runs in its own uvicorn process;
wrk loads one at a time. The report gives requests/s, p50 and p99 per scenario, then the targets:

- ``GET /api/v1/orgs/{id}/projects/{id}`` at >= 90 % of a bare FastAPI + SQLAlchemy ``AsyncSession`` app doing
  BEGIN + tenant binding + a primary-key select of the same row + COMMIT as the runtime role;
- ``/health/live`` at >= 80 % of a bare FastAPI route returning a small JSON dict;
- p99 < 30 ms at 16 connections for the project GET;
- <= 4 database round trips per project read (counted in-process with SQLAlchemy events; an autocommit
  connection's begin/commit/rollback events send nothing and are not counted).

It also loads the scale data (10,000 organizations, when ``WORKTIME_DATABASE_SUPERUSER_URL`` is set) and
prints a Casbin decision's latency. Knobs: BENCH_DURATION, BENCH_CONNECTIONS, BENCH_THREADS, BENCH_WARMUP,
BENCH_ROUNDS, BENCH_PROFILE (N in-process project reads under cProfile), BENCH_STRICT (exit 1 on a FAIL).
"""

from __future__ import annotations

import base64
import contextlib
import cProfile
import io
import json
import os
import pstats
import shutil
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncEngine

# ---- The application modules the bench uses: all here, so they are easy to re-point when modules move.
from backend.app import create_app  # the in-process app (round trips, profile)
from backend.bench import baselines
from backend.bench import reports as reports_bench
from backend.bench import routes as routes_bench
from backend.bench import tracking as tracking_bench
from backend.bench.cpu import Cpu, compare, layer_costs
from backend.bench.http import BenchError, Load, Server, WrkResult, ensure_wrk, run_wrk
from backend.bench.scale import load_scale_data
from backend.seed import demo_org_id  # the seeded organization alice belongs to
from backend.settings import Settings
from backend.tenancy import guard, roles  # Casbin decision latency

REAL_APP_FACTORY = "backend.app:create_app"  # what uvicorn serves, as `python -m backend serve` does
API = "/api/v1"


def _engine_of(app: FastAPI) -> AsyncEngine:
    """The real app's runtime engine, whose events count the database round trips."""
    engine: AsyncEngine = app.state.db.engine
    return engine


# ---- Targets
PROJECT_VS_SQLALCHEMY = 0.90
LIVE_VS_JSON = 0.80
PROJECT_P99_MS = 30.0
PROJECT_P99_CONNECTIONS = 16
ROUND_TRIPS = 4
ROUND_TRIP_WARMUP = 20


@dataclass(frozen=True)
class Target:
    """The project and user the scenarios read: created through the API as alice."""

    org_id: uuid.UUID
    user_id: str
    project_id: str


@dataclass
class Scenario:
    key: str
    label: str
    server: str  # "json", "sqlalchemy" or "app"
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    token: bool = False
    runs: list[WrkResult] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return statistics.fmean(run.requests_per_second for run in self.runs)

    @property
    def p50(self) -> float:
        return statistics.fmean(run.p50_ms for run in self.runs)

    @property
    def worst_p99(self) -> float:
        return max(run.p99_ms for run in self.runs)


async def main(settings: Settings, section: str = "all") -> int:
    """``section``: everything, or only the HTTP load (wrk), or only the in-process time tracking and
    reports/exports figures ("tracking" runs both, "reports" only reports and exports; both need
    ``WORKTIME_DATABASE_SUPERUSER_URL`` to load the entries)."""
    superuser = os.environ.get("WORKTIME_DATABASE_SUPERUSER_URL")
    if section in ("tracking", "reports"):
        if not superuser:
            print("WORKTIME_DATABASE_SUPERUSER_URL unset: the entries cannot be loaded")
            return 1
        passed = await _tracking(settings, superuser, tracking=section == "tracking")
        return 1 if os.environ.get("BENCH_STRICT") and not passed else 0
    print(await load_scale_data(superuser) if superuser else "WORKTIME_DATABASE_SUPERUSER_URL unset: no scale data")
    wrk = ensure_wrk()
    load, rounds = Load.from_env(), int(os.environ.get("BENCH_ROUNDS", "2"))

    target, trips = await _in_process(settings)
    print(f"project read: {API}/orgs/{target.org_id}/projects/{target.project_id} as alice ({target.user_id})")

    log_dir = Path(tempfile.mkdtemp(prefix="worktime-bench-"))
    try:
        scenarios = _http_load(settings, wrk, load, rounds, target, log_dir)
    except BaseException:
        print(f"server logs kept in {log_dir}")
        raise
    shutil.rmtree(log_dir, ignore_errors=True)

    round_trip = await _postgres_round_trip(settings)
    print(f"one Postgres round trip (SELECT 1 on an open connection): p50 {round_trip:.3f} ms")
    decision_p50, decision_p99 = _decision_latency()
    print(f"casbin decision, memoised: p50 {decision_p50:.2f} us, p99 {decision_p99:.2f} us")
    print(f"casbin decision, plain enforce(): p50 {_cold_decision_latency():.2f} us")

    tracking_ok = await _tracking(settings, superuser) if superuser and section == "all" else True
    passed = _summary(load, scenarios, trips) and tracking_ok
    return 1 if os.environ.get("BENCH_STRICT") and not passed else 0


# ---- In-process: time tracking, then reports and exports, on 1,000,000 entries (separate from the wrk section)


async def _tracking(settings: Settings, superuser: str, *, tracking: bool = True) -> bool:
    alice = _subject(await _token(settings))
    loaded = await tracking_bench.load_entries(superuser, uuid.UUID(alice))
    app = create_app(settings.model_copy(update={"log_level": "WARNING"}))
    headers = {"Authorization": f"Bearer {await _token(settings)}"}  # fresh: loading may take a while
    async with app.router.lifespan_context(app):
        tracked = await tracking_bench.run(app, headers, settings.database_url, loaded) if tracking else True
        headers = {"Authorization": f"Bearer {await _token(settings)}"}
        reported = await reports_bench.run(app, headers, settings.database_url, loaded[0])
        headers = {"Authorization": f"Bearer {await _token(settings)}"}
        org_id, person, project = loaded
        routes = await routes_bench.compare_routes(
            app, _engine_of(app), settings.database_url, headers, routes_bench.standard_routes(org_id, person, project)
        )
        routes_bench.print_routes(routes)
        return tracked and reported


# ---- In-process: the project to read, database round trips, optional profile


async def _in_process(settings: Settings) -> tuple[Target, RoundTrips]:
    # As in production: the access line at INFO (to this process's stdout) and the rate limiter counting.
    as_in_production = settings.model_copy(
        update={
            "log_level": "INFO",
            "log_json": True,
            "rate_limit_enabled": True,
            "rate_limit_user": "100000000/minute",
            "rate_limit_org": "100000000/minute",
            "rate_limit_anonymous": "100000000/minute",
        }
    )
    app = create_app(as_in_production)
    org = demo_org_id("acme")
    token = await _token(settings)
    headers = {"Authorization": f"Bearer {token}"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            created = await http.post(
                f"{API}/orgs/{org}/projects", json={"name": f"Bench {uuid.uuid4().hex[:6]}"}, headers=headers
            )
            created.raise_for_status()
            target = Target(org_id=org, user_id=_subject(token), project_id=str(created.json()["id"]))
            path = f"{API}/orgs/{org}/projects/{target.project_id}"
            for _ in range(ROUND_TRIP_WARMUP):
                (await http.get(path, headers=headers)).raise_for_status()
            with _count_round_trips(_engine_of(app)) as trips:
                (await http.get(path, headers=headers)).raise_for_status()
            # The app's access lines (one per request) go where production's go: a file, here /dev/null.
            with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):  # noqa: ASYNC230 (/dev/null)
                cpu = await _cpu(app, path, headers, target)
                layers = await layer_costs(app, "/health/live")
                pgbouncer = await _pgbouncer_cost(as_in_production, app, path, headers)
            _print_cpu(cpu)
            print("  where /health/live's CPU goes, layer by layer (us of its own; min of 3 rounds):")
            for name, micros in layers:
                print(f"    {name:<52}{micros:7.1f}")
            print(pgbouncer)
            profiled = int(os.environ.get("BENCH_PROFILE", "0"))
            if profiled > 0:
                profile = cProfile.Profile()
                profile.enable()
                for _ in range(profiled):
                    await http.get(path, headers=headers)
                profile.disable()
                _print_profile(profile, profiled)
    return target, trips


async def _pgbouncer_cost(settings: Settings, direct: FastAPI, path: str, headers: dict[str, str]) -> str:
    """What PgBouncer (transaction pooling) adds to a project read: wall-clock latency, one request at a
    time, the direct and the pooled app alternating. It costs latency in another process, not our CPU."""
    url = os.environ.get("WORKTIME_PGBOUNCER_URL")
    if not url:
        return "WORKTIME_PGBOUNCER_URL unset: no PgBouncer figure"
    pooled = create_app(settings.model_copy(update={"database_url": url, "database_behind_pgbouncer": True}))

    async def latency(app: FastAPI, requests: int = 400) -> float:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http:
            samples = []
            for _ in range(requests):
                started = time.perf_counter()
                (await http.get(path, headers=headers)).raise_for_status()
                samples.append((time.perf_counter() - started) * 1000)
        return _percentiles(samples)[0]

    async with pooled.router.lifespan_context(pooled):
        await latency(pooled, 50)  # warm the pool
        runs = [(await latency(direct), await latency(pooled)) for _ in range(3)]
    direct_ms, pooled_ms = (statistics.median(r[i] for r in runs) for i in (0, 1))
    return (
        f"project GET through PgBouncer (transaction pooling, no statement cache): p50 {pooled_ms:.2f} ms "
        f"vs direct {direct_ms:.2f} ms (+{pooled_ms - direct_ms:.2f} ms per request)"
    )


async def _cpu(app: FastAPI, path: str, headers: dict[str, str], target: Target) -> list[Cpu]:
    """CPU per request of the app against the bare apps, in this process (robust to a busy machine)."""
    json_app, sqlalchemy_app = baselines.json_app(), baselines.sqlalchemy_app()
    bare_path = f"/orgs/{target.org_id}/projects/{target.project_id}"
    async with sqlalchemy_app.router.lifespan_context(sqlalchemy_app):
        figures = [
            await compare("GET /health/live vs bare /json", (app, "/health/live", {}), (json_app, "/json", {})),
            await compare(
                "project GET vs bare SQLAlchemy read",
                (app, path, headers),
                (sqlalchemy_app, bare_path, {"X-User-Id": target.user_id}),
            ),
        ]
    return figures


def _print_cpu(figures: list[Cpu]) -> None:
    print("CPU per request, in process (time.process_time; 16 in flight; access line and rate limiter on):")
    for figure in figures:
        print(
            f"  {figure.label:<40} app {figure.app_us:8.1f} us   bare {figure.bare_us:8.1f} us"
            f"   bare/app {figure.ratio:.2f}"
        )


def _print_profile(profile: cProfile.Profile, calls: int) -> None:
    """Top 15 by cumulative time (server side, then the project's own code) and by own time. The test
    client's frames (httpx) are left out; a coroutine counts as called again on every resumption."""
    server_side, own_code = r"^(?!.*[/\\]httpx[/\\])", r"[/\\]backend[/\\]"
    views = [
        ("cumulative", server_side, "server side"),
        ("cumulative", own_code, "backend/"),
        ("tottime", server_side, ""),
    ]
    for order, restriction, what in views:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(order).print_stats(restriction, 15)
        table = out.getvalue()[out.getvalue().index("   ncalls") :].rstrip()
        print(f"cProfile over {calls} in-process project reads: top 15 by {order} {what}".rstrip() + ":")
        print(table)


@dataclass
class RoundTrips:
    events: Counter[str] = field(default_factory=Counter)
    statements: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.events.values())


@contextmanager
def _count_round_trips(engine: AsyncEngine) -> Iterator[RoundTrips]:
    """Counts BEGIN, statements, COMMIT and ROLLBACK sent on the engine's connections."""
    trips = RoundTrips()
    sync_engine = engine.sync_engine

    def statement(_conn: object, _cursor: object, sql: str, *_: object) -> None:
        trips.events["statement"] += 1
        trips.statements.append(" ".join(sql.split()))

    with ExitStack() as listeners:
        for name in ("begin", "commit", "rollback"):

            def hit(conn: Connection, *_: object, name: str = name) -> None:
                # An autocommit connection sends no BEGIN, COMMIT or ROLLBACK: SQLAlchemy's events still fire.
                if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
                    trips.events[name] += 1

            event.listen(sync_engine, name, hit)
            listeners.callback(event.remove, sync_engine, name, hit)
        event.listen(sync_engine, "before_cursor_execute", statement)
        listeners.callback(event.remove, sync_engine, "before_cursor_execute", statement)
        yield trips


# ---- HTTP load


def _http_load(settings: Settings, wrk: str, load: Load, rounds: int, target: Target, log_dir: Path) -> list[Scenario]:
    project = f"/orgs/{target.org_id}/projects/{target.project_id}"
    scenarios = [
        Scenario("json", "bare FastAPI GET /json", "json", "/json"),
        Scenario("live", "GET /health/live", "app", "/health/live"),
        Scenario("row", "bare SQLAlchemy row read", "sqlalchemy", project, headers={"X-User-Id": target.user_id}),
        Scenario("me", f"GET {API}/me", "app", f"{API}/me", token=True),
        Scenario("org", f"GET {API}/orgs/{{id}}", "app", f"{API}/orgs/{target.org_id}", token=True),
        Scenario("project", f"GET {API}/orgs/{{id}}/projects/{{id}}", "app", f"{API}{project}", token=True),
    ]
    print(
        f"HTTP load: {load.describe()}, each run after a {load.warmup} s warm-up run (discarded).\n"
        "Every app runs in its own uvicorn process (1 worker, --loop uvloop --http httptools) on 127.0.0.1;\n"
        "the real app as in production (JSON access lines at INFO, to a log file; rate limits on, with\n"
        "budgets raised so the load is counted but never refused), the bare apps with\n"
        f"uvicorn's access log off. {rounds} round(s) of all scenarios in the order below, so each baseline run\n"
        "sits next to the app runs it is compared with; rps and p50 are means over the rounds, p99 the worst."
    )
    app_env = {
        "WORKTIME_LOG_JSON": "true",
        "WORKTIME_LOG_LEVEL": "INFO",
        # Production middleware: the limiter counts every request (an ephemeral stack is env=test,
        # where it would be off); the budgets only need to exceed what wrk sends.
        "WORKTIME_RATE_LIMIT_ENABLED": "true",
        "WORKTIME_RATE_LIMIT_USER": "100000000/minute",
        "WORKTIME_RATE_LIMIT_ORG": "100000000/minute",
        "WORKTIME_RATE_LIMIT_ANONYMOUS": "100000000/minute",
    }
    with ExitStack() as servers:
        running = {
            "json": Server("bare-json", baselines.JSON_FACTORY, log_dir=log_dir, ready_path="/json", access_log=False),
            "sqlalchemy": Server(
                "bare-sqlalchemy", baselines.SQLALCHEMY_FACTORY, log_dir=log_dir, ready_path="/", access_log=False
            ),
            "app": Server("app", REAL_APP_FACTORY, log_dir=log_dir, ready_path="/health/live", env=app_env),
        }
        for server in running.values():
            servers.enter_context(server)
        for n in range(1, rounds + 1):
            print(f"round {n}/{rounds}:", flush=True)
            for scenario in scenarios:
                headers = dict(scenario.headers)
                if scenario.token:  # access tokens live 5 minutes: a fresh one per run
                    headers["Authorization"] = f"Bearer {_token_sync(settings)}"
                result = run_wrk(wrk, running[scenario.server].base_url + scenario.path, load, headers)
                scenario.runs.append(result)
                print(
                    f"  {scenario.label:<40}{result.requests_per_second:>9.1f} rps"
                    f"{result.p50_ms:>9.2f} ms p50{result.p99_ms:>9.2f} ms p99",
                    flush=True,
                )
    print(f"\n{'scenario':<42}{'rps':>9}{'p50 ms':>9}{'p99 ms':>9}   rps per round")
    for scenario in scenarios:
        per_round = " / ".join(f"{run.requests_per_second:.0f}" for run in scenario.runs)
        print(f"{scenario.label:<42}{scenario.rps:>9.1f}{scenario.p50:>9.2f}{scenario.worst_p99:>9.2f}   {per_round}")
    return scenarios


def _summary(load: Load, scenarios: list[Scenario], trips: RoundTrips) -> bool:
    by_key = {scenario.key: scenario for scenario in scenarios}
    bare_json, live, bare_row, project = by_key["json"], by_key["live"], by_key["row"], by_key["project"]
    checks = [
        (
            f"/health/live vs bare JSON: {live.rps:.0f} / {bare_json.rps:.0f} rps = {live.rps / bare_json.rps:.0%}",
            f">= {LIVE_VS_JSON:.0%}",
            live.rps >= LIVE_VS_JSON * bare_json.rps,
        ),
        (
            f"project GET vs bare SQLAlchemy: {project.rps:.0f} / {bare_row.rps:.0f} rps = "
            f"{project.rps / bare_row.rps:.0%}",
            f">= {PROJECT_VS_SQLALCHEMY:.0%}",
            project.rps >= PROJECT_VS_SQLALCHEMY * bare_row.rps,
        ),
        (
            f"project GET p99 at {load.connections} connections: {project.worst_p99:.1f} ms (worst round)",
            f"< {PROJECT_P99_MS:.0f} ms at {PROJECT_P99_CONNECTIONS}",
            project.worst_p99 < PROJECT_P99_MS and load.connections == PROJECT_P99_CONNECTIONS,
        ),
        (
            f"database round trips per project read: {trips.total} ("
            + ", ".join(f"{name} {trips.events[name]}" for name in ("begin", "statement", "commit", "rollback"))
            + ")",
            f"<= {ROUND_TRIPS}",
            trips.total <= ROUND_TRIPS,
        ),
    ]
    print("\ntargets:")
    for line, goal, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {line}  (target {goal})")
    print("  the project read's statements:")
    for sql in trips.statements:
        print(f"    {sql if len(sql) <= 150 else sql[:147] + '...'}")
    return all(ok for _, _, ok in checks)


# ---- Tokens


def _token_request(settings: Settings) -> tuple[str, dict[str, str]]:
    url = f"{settings.keycloak_url}/realms/{settings.keycloak_realm}/protocol/openid-connect/token"
    form = {"grant_type": "password", "client_id": "worktime-cli", "username": "alice", "password": "worktime-demo"}
    return url, form


async def _token(settings: Settings) -> str:
    url, form = _token_request(settings)
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(url, data=form)
        response.raise_for_status()
        return str(response.json()["access_token"])


def _token_sync(settings: Settings) -> str:
    url, form = _token_request(settings)
    response = httpx.post(url, data=form, timeout=30)
    if response.status_code != 200:
        raise BenchError(f"token request failed: {response.status_code} {response.text}")
    return str(response.json()["access_token"])


def _subject(token: str) -> str:
    """The token's ``sub`` (alice's user id), read without verification: the API verifies it."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sub"])


# ---- Postgres and Casbin


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]


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


def _decision_latency(rounds: int = 100_000) -> tuple[float, float]:
    """A Casbin decision (role -> permission with inheritance), in microseconds."""
    subjects, permissions = roles.subjects(), guard.policy.permissions()
    samples = []
    for n in range(rounds):
        role, permission = subjects[n % len(subjects)], permissions[n % len(permissions)]
        started = time.perf_counter_ns()
        guard.policy.is_allowed(role, permission)
        samples.append((time.perf_counter_ns() - started) / 1000)
    return _percentiles(samples)


def _cold_decision_latency(rounds: int = 2000) -> float:
    subjects, permissions, samples = roles.subjects(), guard.policy.permissions(), []
    for n in range(rounds):
        resource, _, action = permissions[n % len(permissions)].partition(":")
        started = time.perf_counter_ns()
        guard.policy.enforcer.enforce(subjects[n % len(subjects)], resource, action)
        samples.append((time.perf_counter_ns() - started) / 1000)
    return float(statistics.median(samples))
