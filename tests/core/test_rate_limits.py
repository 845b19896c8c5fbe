"""Rate limits counted in the real Redis; Redis away or hanging fails open (issue 8).

The limiter is off when WORKTIME_ENV=test (the rest of the suite must not be throttled); these tests switch
it on with WORKTIME_RATE_LIMIT_ENABLED and small budgets. Every test uses fresh users, organizations or
client addresses, so counters left in Redis by an earlier run cannot interfere. Budgets are per hour: the
sliding-window counter weighs the previous window by the time left in it and rounds down, so a burst
that straddles a window boundary may get one extra request, which a per-minute window makes likely under
load.
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from backend.app import create_app
from tests.conftest import Keycloak, Tokens, add_member, create_org


async def _client(settings: Any, **budgets: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"rate_limit_enabled": True, **budgets}))
    client_ip = f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(client_ip, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            yield http


async def _fresh_user(keycloak: Keycloak, tokens: Tokens) -> tuple[str, dict[str, str]]:
    username = f"rl-{uuid.uuid4().hex[:10]}"
    password = "Pa55-word-for-tests"
    user_id = await keycloak.create_user(username, password)
    tokens.passwords[username] = password
    return str(user_id), await tokens.headers(username)


def _assert_429(response: httpx.Response, policy: str, quota: int) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["policy"] == policy
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 3600
    assert response.headers["ratelimit-policy"] == f'"{policy}";q={quota};w=3600'
    assert response.headers["ratelimit"] == f'"{policy}";r=0;t={retry_after}'
    assert response.headers["x-request-id"]


async def test_anonymous_requests_are_limited_per_client_address(settings: Any) -> None:
    async for http in _client(settings, rate_limit_anonymous="3/hour"):
        for _ in range(3):
            assert (await http.get("/api/v1/me")).status_code == 401
        _assert_429(await http.get("/api/v1/me"), "anonymous", 3)
        # Health and docs are never limited.
        assert (await http.get("/health/live")).status_code == 200


async def test_a_user_burst_is_limited_and_another_user_is_not(
    settings: Any, keycloak: Keycloak, tokens: Tokens
) -> None:
    _, first = await _fresh_user(keycloak, tokens)
    _, second = await _fresh_user(keycloak, tokens)
    async for http in _client(settings, rate_limit_user="5/hour"):
        for _ in range(5):
            assert (await http.get("/api/v1/me", headers=first)).status_code == 200
        _assert_429(await http.get("/api/v1/me", headers=first), "user", 5)
        assert (await http.get("/api/v1/me", headers=second)).status_code == 200
        # An invalid token is not the user's budget: it counts as anonymous and gets the app's 401.
        assert (await http.get("/api/v1/me", headers={"Authorization": "Bearer nope"})).status_code == 401


async def test_an_organization_has_its_own_budget(
    settings: Any, keycloak: Keycloak, tokens: Tokens, owner_db: Any
) -> None:
    _, owner = await _fresh_user(keycloak, tokens)
    colleague_id, colleague = await _fresh_user(keycloak, tokens)
    async for http in _client(settings, rate_limit_org="4/hour"):
        busy = await create_org(http, owner)
        quiet = await create_org(http, owner)
        await add_member(owner_db, busy["id"], uuid.UUID(colleague_id), "member")
        for _ in range(4):
            assert (await http.get(f"/api/v1/orgs/{busy['id']}", headers=owner)).status_code == 200
        # The colleague has spent nothing of their own budget, but the organization's is gone.
        _assert_429(await http.get(f"/api/v1/orgs/{busy['id']}", headers=colleague), "org", 4)
        assert (await http.get(f"/api/v1/orgs/{quiet['id']}", headers=owner)).status_code == 200
        assert (await http.get("/api/v1/orgs", headers=colleague)).status_code == 200


async def test_invitations_have_a_tighter_budget(settings: Any, keycloak: Keycloak, tokens: Tokens) -> None:
    _, owner = await _fresh_user(keycloak, tokens)
    async for http in _client(settings, rate_limit_costly="2/hour"):
        org = await create_org(http, owner)
        invitations = f"/api/v1/orgs/{org['id']}/members/invitations"
        for _ in range(2):  # refused by validation, still counted: the budget is for attempts
            assert (await http.post(invitations, json={"email": "not-an-address"}, headers=owner)).status_code == 422
        _assert_429(await http.post(invitations, json={"email": "not-an-address"}, headers=owner), "costly", 2)
        assert (await http.get(f"/api/v1/orgs/{org['id']}/members", headers=owner)).status_code == 200


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def silent_redis() -> AsyncIterator[int]:
    """A server that accepts connections and never answers, like a Redis stuck in a long command."""
    connections: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in connections:
        writer.close()
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize("redis", ["down", "silent"])
async def test_without_redis_requests_are_still_served(
    settings: Any, tokens: Tokens, silent_redis: int, redis: str
) -> None:
    """Redis away or hanging: nothing stalls, and each process keeps counting on its own."""
    port = _closed_port() if redis == "down" else silent_redis
    headers = await tokens.headers("alice")
    async for http in _client(
        settings,
        rate_limit_user="5/hour",
        rate_limit_sync_seconds=0.05,
        rate_limit_redis_url=f"redis://127.0.0.1:{port}/0",
    ):
        started = time.perf_counter()
        for _ in range(5):
            assert (await http.get("/api/v1/me", headers=headers)).status_code == 200
            await asyncio.sleep(0.05)  # let the background sync meet the missing Redis
        elapsed = time.perf_counter() - started
        _assert_429(await http.get("/api/v1/me", headers=headers), "user", 5)
    assert elapsed < 2.0, f"5 requests took {elapsed:.2f}s with Redis {redis}"


async def test_processes_share_a_budget_through_redis(settings: Any, keycloak: Keycloak, tokens: Tokens) -> None:
    """Two API processes (two app instances here) see each other's use after one sync interval."""
    _, headers = await _fresh_user(keycloak, tokens)
    budgets = {"rate_limit_user": "10/hour", "rate_limit_sync_seconds": 0.05}
    async for first in _client(settings, **budgets):
        async for second in _client(settings, **budgets):
            for _ in range(8):
                assert (await first.get("/api/v1/me", headers=headers)).status_code == 200
            await asyncio.sleep(0.3)  # the first process has reported its 8 requests
            served = [(await second.get("/api/v1/me", headers=headers)).status_code for _ in range(4)]
            await asyncio.sleep(0.3)
            assert served[:2] == [200, 200] and served[2:] == [429, 429], served
            # ...and the first process now knows the shared budget is spent.
            _assert_429(await first.get("/api/v1/me", headers=headers), "user", 10)
