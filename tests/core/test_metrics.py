"""Prometheus metrics at /metrics (issue 19): scraped and parsed as Prometheus would, in one process and
across several API processes and a worker sharing a multi-process directory."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from backend.app import create_app
from tests.conftest import ACME, Tokens
from tests.infra import ROOT, start_worker, stop_worker

ORG_ROUTE = "/api/v1/orgs/{org_id}"


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def _scrape(client: httpx.AsyncClient, **headers: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return _samples(response.text)


async def test_requests_refusals_and_pools_are_counted_by_route_template_and_reason(
    client: httpx.AsyncClient, tokens: Tokens, demo_orgs: dict[str, uuid.UUID]
) -> None:
    acme = demo_orgs[ACME]
    before = await _scrape(client)
    alice, dave = await tokens.headers("alice"), await tokens.headers("dave")
    for _ in range(3):
        assert (await client.get(f"/api/v1/orgs/{acme}", headers=alice)).status_code == 200
    assert (await client.get(f"/api/v1/orgs/{acme}")).status_code == 401
    assert (await client.get(f"/api/v1/orgs/{acme}", headers={"Authorization": "Basic x"})).status_code == 401
    assert (await client.get(f"/api/v1/orgs/{acme}", headers={"Authorization": "Bearer nope"})).status_code == 401
    invite = {"email": f"m-{uuid.uuid4().hex[:8]}@acme.test", "role": "member"}
    assert (await client.post(f"/api/v1/orgs/{acme}/members/invitations", json=invite, headers=dave)).status_code == 403
    assert (await client.get(f"/no-such-page-{uuid.uuid4()}")).status_code == 404
    after = await _scrape(client)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    count = "worktime_http_request_duration_seconds_count"
    # Labelled by the template, never the org's id: one series per route however many tenants.
    assert grew(count, method="GET", route=ORG_ROUTE, status="200") == 3
    # The edge refuses a missing token before routing; the other two reached the route's dependency.
    assert grew(count, method="GET", route=ORG_ROUTE, status="401") == 2
    assert grew(count, method="GET", route="unrouted", status="401") == 1
    assert grew(count, method="GET", route="unrouted", status="404") == 1
    assert not any(str(acme) in dict(labels).get("route", "") for _, labels in after)
    bucket = "worktime_http_request_duration_seconds_bucket"
    assert grew(bucket, method="GET", route=ORG_ROUTE, status="200", le="+Inf") == 3
    assert grew("worktime_auth_failures_total", reason="missing") == 1
    assert grew("worktime_auth_failures_total", reason="malformed") == 1
    assert grew("worktime_auth_failures_total", reason="invalid") == 1
    assert grew("worktime_authz_denials_total", permission="member:invite") == 1
    assert _value(after, "worktime_jwks_refreshes_total", outcome="ok") >= 1
    # Between requests no connection is checked out; the gauge exists for the runtime role's pool.
    assert ("worktime_db_pool_connections_in_use", frozenset({("role", "worktime_app")})) in after
    assert _value(after, "worktime_db_pool_connections_in_use", role="worktime_app") == 0
    assert _value(after, "worktime_outbox_oldest_age_seconds") >= 0
    assert ("worktime_outbox_pending", frozenset()) in after


async def test_rate_limit_refusals_are_counted_per_budget(settings: Any) -> None:
    app = create_app(settings.model_copy(update={"rate_limit_enabled": True, "rate_limit_anonymous": "2/minute"}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(f"10.9.{os.getpid() % 250}.{time.time_ns() % 250}", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            before = await _scrape(http)
            statuses = [(await http.get("/api/v1/orgs")).status_code for _ in range(4)]
            after = await _scrape(http)
    assert statuses.count(429) == 2, statuses
    name = "worktime_rate_limited_total"
    assert _value(after, name, policy="anonymous") - _value(before, name, policy="anonymous") == 2
    count = "worktime_http_request_duration_seconds_count"
    assert _value(after, count, method="GET", route="unrouted", status="429") >= 2


async def _production_client(settings: Any, token: str) -> tuple[FastAPI, httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"env": "production", "metrics_token": token}))
    return app, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.mark.parametrize("token", ["", "a-scrape-token-of-the-operator"])
async def test_outside_development_metrics_need_the_token(settings: Any, token: str) -> None:
    app, http = await _production_client(settings, token)
    async with app.router.lifespan_context(app), http:
        assert (await http.get("/metrics")).status_code == 404
        assert (await http.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 404
        if token:
            scraped = await _scrape(http, Authorization=f"Bearer {token}")
            assert any(name == "worktime_http_request_duration_seconds_count" for name, _ in scraped)


@pytest.fixture
def api_processes(migrated: dict[str, str], tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """`serve --workers 2` and a job worker writing to one multi-process directory."""
    port = _free_port()
    directory = tmp_path / "metrics"
    directory.mkdir()
    env = {**os.environ, **migrated, "WORKTIME_ENV": "test", "WORKTIME_LOG_LEVEL": "WARNING"}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    server = subprocess.Popen(
        [sys.executable, "-m", "backend", "serve", "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    worker = start_worker({"PROMETHEUS_MULTIPROC_DIR": str(directory), "WORKTIME_LOG_LEVEL": "WARNING"})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.2)
        yield port, directory
    finally:
        stop_worker(worker)
        server.terminate()
        server.wait(20)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_several_api_processes_and_a_worker_add_up_in_one_scrape(
    api_processes: tuple[int, Path], tokens: Tokens, demo_orgs: dict[str, uuid.UUID]
) -> None:
    port, directory = api_processes
    acme = demo_orgs[ACME]
    bob = await tokens.headers("bob")
    requests = 60
    # Fresh connections, many at once: the two uvicorn processes share the listening socket.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30) as http:
        answers = await asyncio.gather(*(http.get(f"/api/v1/orgs/{acme}", headers=bob) for _ in range(requests)))
        assert [a.status_code for a in answers] == [200] * requests
        ping = (await http.post(f"/api/v1/orgs/{acme}/diagnostics/pings", headers=bob)).json()
        deadline = time.monotonic() + 30
        while (await http.get(f"/api/v1/orgs/{acme}/diagnostics/pings/{ping['id']}", headers=bob)).json()[
            "status"
        ] != "processed":
            assert time.monotonic() < deadline, "the worker did not process the ping"
            await asyncio.sleep(0.2)
        # Both API processes answered and wrote their own files.
        pids = {path.stem.rsplit("_", 1)[1] for path in directory.glob("histogram_*.db")}
        assert len(pids) >= 2, sorted(directory.iterdir())
        # Whichever process answers the scrape, it reads every process's counts.
        for _ in range(4):
            response = await http.get("/metrics")
            assert response.status_code == 200
            samples = _samples(response.text)
            count = "worktime_http_request_duration_seconds_count"
            assert _value(samples, count, method="GET", route=ORG_ROUTE, status="200") == requests
            # The fresh worker also drains pings earlier tests left on the shared queue: at least ours, and
            # every job counted is also timed.
            succeeded = _value(samples, "worktime_jobs_total", actor="process_ping", outcome="succeeded")
            assert succeeded >= 1
            assert _value(samples, "worktime_job_duration_seconds_count", actor="process_ping") == succeeded
