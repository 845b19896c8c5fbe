"""Fault drills of docs/operations.md ("Fault drills"), run against real processes.

Each drill runs the API as a real uvicorn subprocess pointed at instances the test owns (a redis-server
on a free port, a Postgres cluster of its own, a TCP proxy in front of the stack's Keycloak), so stopping
them never disturbs the shared stack the other tests use. Each asserts counts an operator would check:
failed requests, 2xx writes present in the database afterwards, seconds to recover.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import Tokens
from tests.infra import ROOT, load_localstack, start_worker, stop_worker


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout:.0f}s")


class TcpProxy:
    """A TCP relay on a fixed local port; ``close()`` refuses new connections and cuts the open ones,
    as a dead or partitioned server would, and ``open()`` brings it back on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._conns |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for conn in (source, sink):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


class RedisServer:
    """A redis-server of the test's own, which it can really stop and start again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
        _wait_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


@contextlib.contextmanager
def serve_api(log: Path, env: Mapping[str, str]) -> Iterator[str]:
    """``python -m backend serve`` on a free port with ``env`` on top of the stack's; yields its base URL."""
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "backend", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"the API exited; see {log}:\n{log.read_text()[-3000:]}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health/live", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"the API did not start in 60 s; see {log}"
            time.sleep(0.2)
        yield base
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 15)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait(5)


async def _burst(
    http: httpx.AsyncClient, requests: list[tuple[str, str, dict[str, Any] | None]], headers: dict[str, str]
) -> list[httpx.Response | Exception]:
    async def one(method: str, url: str, body: dict[str, Any] | None) -> httpx.Response | Exception:
        try:
            return await http.request(method, url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            return exc

    return list(await asyncio.gather(*(one(*request) for request in requests)))


def _statuses(results: list[httpx.Response | Exception]) -> list[int | str]:
    return [r.status_code if isinstance(r, httpx.Response) else type(r).__name__ for r in results]


@contextlib.asynccontextmanager
async def _http(base: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base, timeout=15) as http:
        yield http


# --------------------------------------------------------------------------------------------- Keycloak


async def test_keycloak_down_cached_keys_keep_requests_working_and_readiness_is_degraded(
    migrated: dict[str, str], tokens: Tokens, demo_orgs: dict[str, Any], tmp_path: Path
) -> None:
    keycloak = httpx.URL(migrated["WORKTIME_KEYCLOAK_URL"])
    proxy = TcpProxy((keycloak.host, keycloak.port or 80))
    proxy.open()
    env = {
        # The API reaches Keycloak through the proxy; tokens still name the real Keycloak as issuer.
        "WORKTIME_KEYCLOAK_URL": f"http://127.0.0.1:{proxy.port}",
        "WORKTIME_KEYCLOAK_PUBLIC_URL": str(keycloak).rstrip("/"),
        # The cached set ages out during the outage, so every request exercises the failed refresh.
        "WORKTIME_JWKS_CACHE_SECONDS": "1",
        "WORKTIME_JWKS_UNKNOWN_KID_COOLDOWN_SECONDS": "1",
        "WORKTIME_RATE_LIMIT_ENABLED": "false",
    }
    dave, bob = await tokens.headers("dave"), await tokens.headers("bob")
    acme = demo_orgs["acme"]
    try:
        with serve_api(tmp_path / "api.log", env) as base:
            async with _http(base) as http:
                assert (await http.get("/api/v1/me", headers=dave)).status_code == 200  # the JWKS is cached
                assert (await http.get("/health/ready")).json()["status"] == "ok"

                proxy.close()  # Keycloak is gone
                await asyncio.sleep(1.2)  # past the cache age: refreshes are attempted and fail
                results: list[httpx.Response | Exception] = []
                for _ in range(4):  # ~3 s of traffic, 2 users, reads and a write
                    results += await _burst(http, [("GET", "/api/v1/me", None)] * 20, dave)
                    results += await _burst(http, [("GET", f"/api/v1/orgs/{acme}/notes", None)] * 10, bob)
                    results += await _burst(
                        http, [("POST", f"/api/v1/orgs/{acme}/notes", {"title": "drill: keycloak down"})] * 2, bob
                    )
                    await asyncio.sleep(0.7)
                statuses = _statuses(results)
                failed = [s for s in statuses if s not in (200, 201)]
                assert failed == [], f"{len(failed)} of {len(statuses)} requests failed: {failed[:10]}"
                assert len(statuses) == 128

                ready = await http.get("/health/ready")
                assert ready.status_code == 200, ready.text
                body = ready.json()
                assert body["status"] == "degraded"
                assert body["degraded"] == ["keycloak"]
                assert body["checks"]["postgres"] == "ok" and body["checks"]["redis"] == "ok"
                assert body["checks"]["keycloak"] != "ok"

                proxy.open()  # Keycloak is back
                started = time.monotonic()
                while (await http.get("/health/ready")).json().get("status") != "ok":
                    assert time.monotonic() - started < 10, "readiness did not report Keycloak back within 10 s"
                    await asyncio.sleep(0.2)
    finally:
        proxy.close()


# --------------------------------------------------------------------------------------------- Redis


async def test_redis_down_reads_work_rate_limits_count_per_process_and_jobs_resume(
    private_database: PrivateDatabase, tokens: Tokens, demo_orgs: dict[str, Any], tmp_path: Path
) -> None:
    # The drill's own database too: on the shared one, the outbox relay of any other app in the test
    # session could take the drill's job and hand it to the shared Redis, where this worker never sees it.
    redis = RedisServer()
    redis.start()
    env = {
        **private_database.env,
        "WORKTIME_REDIS_URL": redis.url,
        "WORKTIME_RATE_LIMIT_ENABLED": "true",
        "WORKTIME_RATE_LIMIT_USER": "100/minute",
    }
    erin, bob = await tokens.headers("erin"), await tokens.headers("bob")
    acme = demo_orgs["acme"]
    worker = start_worker({**private_database.env, "WORKTIME_REDIS_URL": redis.url}, threads=1)
    try:
        with serve_api(tmp_path / "api.log", env) as base:
            async with _http(base) as http:
                assert (await http.get("/api/v1/me", headers=erin)).status_code == 200  # 1 of erin's 100

                redis.stop()
                # Reads keep working (bob's budget is far from spent).
                reads = await _burst(http, [("GET", f"/api/v1/orgs/{acme}/notes", None)] * 15, bob)
                reads += await _burst(http, [("GET", "/api/v1/me", None)] * 15, bob)
                failed = [s for s in _statuses(reads) if s != 200]
                assert failed == [], f"{len(failed)} of {len(reads)} reads failed with Redis down: {failed}"
                ready = (await http.get("/health/ready")).json()
                assert ready["failing"] == ["redis"]

                # The rate limit still counts, in this process: erin has 99 left of 100.
                limited = _statuses(await _burst(http, [("GET", "/api/v1/me", None)] * 120, erin))
                assert limited.count(200) == 99, limited
                assert limited.count(429) == 21, limited

                # A job requested while Redis is down waits in the outbox...
                sent = await http.post(f"/api/v1/orgs/{acme}/diagnostics/pings", headers=bob)
                assert sent.status_code == 202, sent.text
                ping = f"/api/v1/orgs/{acme}/diagnostics/pings/{sent.json()['id']}"
                await asyncio.sleep(1)
                assert (await http.get(ping, headers=bob)).json()["status"] == "queued"

                # ...and is processed once Redis is back.
                redis.start()
                started = time.monotonic()
                while True:
                    state = await http.get(ping, headers=bob)
                    assert state.status_code == 200, state.text
                    if state.json()["status"] == "processed":
                        break
                    assert worker.poll() is None, "the worker exited"
                    assert time.monotonic() - started < 20, "the job did not resume within 20 s of Redis' return"
                    await asyncio.sleep(0.5)
                resumed = time.monotonic() - started
                assert (await http.get("/health/ready")).status_code == 200
                assert resumed < 20, f"job processed {resumed:.1f} s after Redis came back"
    finally:
        stop_worker(worker)
        redis.stop()


# --------------------------------------------------------------------------------------------- Postgres


class PrivateDatabase:
    """A Postgres cluster (and a PgBouncer in front of it) of the drills' own, built with the local
    stack's own service classes, migrated and seeded like the shared one."""

    def __init__(self, root: Path) -> None:
        localstack = load_localstack()
        services = importlib.import_module("localstack.services")
        config = importlib.import_module("localstack.config")
        user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        self.sup = localstack.supervisor.Supervisor(root)
        self.sup.logs.mkdir(parents=True, exist_ok=True)
        (root / "run").mkdir(parents=True, exist_ok=True)
        self.pg_port, self.bouncer_port = free_port(), free_port()
        self.postgres = services.Postgres(self.sup, root, self.pg_port, ephemeral=False, user=user)
        self.pgbouncer = services.PgBouncer(self.sup, root, self.bouncer_port, self.pg_port, user=user)
        app, owner = config.DB_PASSWORDS["app_password"], config.DB_PASSWORDS["owner_password"]
        at = f"127.0.0.1:{self.pg_port}/worktime"
        self.env = {
            "WORKTIME_DATABASE_URL": f"postgresql+asyncpg://worktime_app:{app}@{at}",
            "WORKTIME_DATABASE_OWNER_URL": f"postgresql+asyncpg://worktime_owner:{owner}@{at}",
        }
        self.pgbouncer_url = f"postgresql+asyncpg://worktime_app:{app}@127.0.0.1:{self.bouncer_port}/worktime"
        self.owner_dsn = f"postgresql://worktime_owner:{owner}@{at}"

    def start(self) -> None:
        self.postgres.start()
        self.postgres.wait()
        self.postgres.bootstrap()
        self.pgbouncer.start()
        self.pgbouncer.wait()
        for command in ("migrate", "seed"):
            subprocess.run(
                [sys.executable, "-m", "backend", command], cwd=ROOT, env={**os.environ, **self.env}, check=True
            )

    def restart(self, name: str, stop_signal: int) -> None:
        """Stop the service the way its operator would (Postgres: fast shutdown) and start it again."""
        (child,) = [c for c in self.sup.children if c.name == name]
        child.proc.send_signal(stop_signal)
        child.proc.wait(30)
        child.proc = child.respawn()
        child.info = type(child.info)(child.proc.pid, child.info.start, child.info.stop_signal, child.info.group)

    def stop(self) -> None:
        self.sup.stop_children()


@pytest.fixture(scope="module")
def private_database(migrated: dict[str, str]) -> Iterator[PrivateDatabase]:
    root = Path(tempfile.mkdtemp(prefix="worktime-drill-", dir="/tmp"))  # /tmp: the postgres user can reach it
    database = PrivateDatabase(root)
    try:
        database.start()
        yield database
    finally:
        database.stop()
        shutil.rmtree(root, ignore_errors=True)


async def _writes_through_a_restart(
    base: str, tokens: Tokens, acme: Any, restart: Callable[[], None], owner_dsn: str, what: str
) -> float:
    """Write notes continuously while ``restart`` runs; every 2xx note must be in the database and every
    other answer a 503 problem. Returns the seconds from the restart until a write succeeds again."""
    bob = await tokens.headers("bob")
    created: list[str] = []
    statuses: list[int | str] = []
    stop = asyncio.Event()
    async with _http(base) as http:

        async def writer(n: int) -> None:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    response = await http.post(
                        f"/api/v1/orgs/{acme}/notes", json={"title": f"drill {what} {n}-{i}"}, headers=bob
                    )
                except httpx.HTTPError as exc:
                    statuses.append(type(exc).__name__)
                    continue
                statuses.append(response.status_code)
                if response.is_success:
                    created.append(response.json()["id"])
                else:
                    assert response.status_code == 503, response.text
                    assert response.headers["content-type"] == "application/problem+json"
                await asyncio.sleep(0.02)

        writers = [asyncio.create_task(writer(n)) for n in range(4)]
        await asyncio.sleep(1.0)
        assert created, f"no write succeeded before the restart: {statuses}"
        before = len(created)
        restarted_at = time.monotonic()
        await asyncio.to_thread(restart)
        recovered: float | None = None
        while recovered is None:
            await asyncio.sleep(0.1)
            ready = await http.get("/health/ready")
            if ready.status_code == 200 and len(created) > before and statuses[-1] in (200, 201):
                recovered = time.monotonic() - restarted_at
            assert time.monotonic() - restarted_at < 10, f"not ready 10 s after the {what} restart: {ready.text}"
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*writers)

    transport_errors = [s for s in statuses if isinstance(s, str)]
    assert transport_errors == [], f"requests cut without an answer: {transport_errors}"
    failed = [s for s in statuses if s not in (200, 201)]
    connection = await asyncpg.connect(owner_dsn)
    try:
        found = await connection.fetchval(
            "SELECT count(*) FROM notes WHERE id = ANY($1::uuid[])", [uuid.UUID(i) for i in created]
        )
    finally:
        await connection.close()
    assert found == len(created), f"{len(created) - found} of {len(created)} acknowledged writes were lost"
    assert len(failed) < len(statuses), f"{what}: every write failed"
    return recovered


async def test_postgres_restart_ready_within_10_s_and_no_acknowledged_write_lost(
    private_database: PrivateDatabase, tokens: Tokens, demo_orgs: dict[str, Any], tmp_path: Path
) -> None:
    env = {**private_database.env, "WORKTIME_RATE_LIMIT_ENABLED": "false"}
    with serve_api(tmp_path / "api.log", env) as base:
        await _writes_through_a_restart(
            base,
            tokens,
            demo_orgs["acme"],
            lambda: private_database.restart("postgres", signal.SIGINT),
            private_database.owner_dsn,
            "Postgres",
        )


async def test_pgbouncer_restart_ready_within_10_s_and_no_acknowledged_write_lost(
    private_database: PrivateDatabase, tokens: Tokens, demo_orgs: dict[str, Any], tmp_path: Path
) -> None:
    env = {
        **private_database.env,
        "WORKTIME_DATABASE_URL": private_database.pgbouncer_url,
        "WORKTIME_DATABASE_BEHIND_PGBOUNCER": "true",
        "WORKTIME_RATE_LIMIT_ENABLED": "false",
    }
    with serve_api(tmp_path / "api.log", env) as base:
        await _writes_through_a_restart(
            base,
            tokens,
            demo_orgs["acme"],
            lambda: private_database.restart("pgbouncer", signal.SIGTERM),
            private_database.owner_dsn,
            "PgBouncer",
        )
