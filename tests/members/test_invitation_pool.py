"""Keycloak calls never hold a database connection (issue 8).

The app under test has a pool of two connections and reaches Keycloak's admin API through a proxy that
delays every request by 2 s. While several invitations wait on Keycloak, another tenant's read must
still get a connection at once: the invitation service runs its Keycloak calls with no transaction
open, between two short ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from backend.app import create_app
from tests.conftest import Tokens, create_org
from tests.members.conftest import new_email
from tests.smtp_sink import SmtpSink

DELAY_SECONDS = 2.0
INVITATIONS = 4


@contextlib.asynccontextmanager
async def slow_proxy(upstream: str, delay: float) -> AsyncIterator[str]:
    """A TCP proxy that holds every chunk the client sends for ``delay`` seconds (each HTTP request)."""
    target = urlparse(upstream)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, slow: bool) -> None:
        try:
            while chunk := await reader.read(65536):
                if slow:
                    await asyncio.sleep(delay)
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):  # torn down with the test's loop
            server_reader, server_writer = await asyncio.open_connection(target.hostname, target.port)
            await asyncio.gather(
                pipe(client_reader, server_writer, slow=True), pipe(server_reader, client_writer, slow=False)
            )

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()


@pytest.fixture
async def tiny_client(settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with slow_proxy(settings.keycloak_admin_url or settings.keycloak_url, DELAY_SECONDS) as proxy:
        tiny = settings.model_copy(
            update={
                "keycloak_admin_url": proxy,
                "keycloak_timeout_seconds": 30.0,
                "database_pool_size": 2,
                "database_max_overflow": 0,
                "outbox_relay_enabled": False,
            }
        )
        app = create_app(tiny)
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
                yield http


async def test_invitations_waiting_on_keycloak_do_not_starve_other_tenants(
    client: httpx.AsyncClient,
    tiny_client: httpx.AsyncClient,
    tokens: Tokens,
    mailbox: SmtpSink,
    demo_orgs: dict[str, Any],
) -> None:
    alice, grace = await tokens.headers("alice"), await tokens.headers("grace")
    org = await create_org(client, alice, "Slow Keycloak")
    globex_members = f"/api/v1/orgs/{demo_orgs['globex']}/members"
    assert (await tiny_client.get(globex_members, headers=grace)).status_code == 200

    async def invite() -> httpx.Response:
        return await tiny_client.post(
            f"/api/v1/orgs/{org['id']}/members/invitations", json={"email": new_email("slow")}, headers=alice
        )

    started = time.perf_counter()
    invitations = [asyncio.create_task(invite()) for _ in range(INVITATIONS)]
    await asyncio.sleep(0.5)  # every invitation is now waiting on the slow Keycloak
    reads: list[float] = []
    for _ in range(5):
        began = time.perf_counter()
        read = await asyncio.wait_for(tiny_client.get(globex_members, headers=grace), timeout=60)
        reads.append(time.perf_counter() - began)
        assert read.status_code == 200, read.text
        await asyncio.sleep(0.2)
    responses = await asyncio.gather(*invitations)
    invited_in = time.perf_counter() - started
    assert [r.status_code for r in responses] == [201] * INVITATIONS, [r.text for r in responses]
    print(f"invitations took {invited_in:.1f} s; reads meanwhile took at most {max(reads):.3f} s")  # noqa: T201
    assert invited_in > DELAY_SECONDS  # the proxy really slowed Keycloak down
    assert max(reads) < 0.5, reads
