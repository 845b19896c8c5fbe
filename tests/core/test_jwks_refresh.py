"""A JWKS endpoint that hangs does not stall requests whose key is already known (issue 8).

The endpoint is a real HTTP server on 127.0.0.1 that answers, and then, when told to, accepts requests
and never answers (like a Keycloak stuck in a garbage collection or behind a dead proxy).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from backend.core.auth import JwksCache, TokenVerifier
from backend.core.errors import NotAuthenticated
from tests.core.test_verifier import KEY, KID, SETTINGS, claims, jwk, new_key, sign


class HangingJwks:
    def __init__(self, keys: list[dict[str, Any]]) -> None:
        self.keys = keys
        self.hang = False
        self.requests = 0
        self.url = ""
        self._server: asyncio.Server | None = None
        self._held: list[asyncio.StreamWriter] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        self.requests += 1
        if self.hang:
            self._held.append(writer)  # never answered
            return
        body = json.dumps({"keys": self.keys}).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        writer.close()

    async def __aenter__(self) -> HangingJwks:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/realms/worktime/protocol/openid-connect/certs"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for writer in self._held:
            writer.close()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


@pytest.fixture
async def jwks_server() -> AsyncIterator[HangingJwks]:
    async with HangingJwks([jwk(KEY, KID)]) as server:
        yield server


async def _timed(coro: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = await coro
    return result, time.perf_counter() - started


async def test_a_known_kid_is_served_fast_while_the_refresh_hangs(jwks_server: HangingJwks) -> None:
    async with httpx.AsyncClient(timeout=5.0) as http:
        cache = JwksCache(
            jwks_server.url, http, max_age_seconds=0.2, unknown_kid_cooldown_seconds=0.0, stale_wait_seconds=0.3
        )
        verifier = TokenVerifier(SETTINGS, cache)
        await verifier.verify(sign(claims()))
        jwks_server.hang = True
        await asyncio.sleep(0.3)  # the key set ages out

        # The first request after that waits at most the stale grace, then uses the last good keys...
        principal, first = await _timed(verifier.verify(sign(claims(jti="a"))))
        assert principal.client_id == "worktime-cli"
        assert first < 1.0, f"first request after the key set aged out took {first:.2f}s"
        # ...and the next ones do not wait for the refresh that is still hanging.
        for n in range(5):
            _, later = await _timed(verifier.verify(sign(claims(jti=f"b{n}"))))
            assert later < 0.1, f"a request during the hanging refresh took {later:.2f}s"
        assert jwks_server.requests == 2  # one hanging refresh, shared


async def test_an_unknown_kid_waits_only_a_bounded_time(jwks_server: HangingJwks) -> None:
    async with httpx.AsyncClient(timeout=5.0) as http:
        cache = JwksCache(jwks_server.url, http, unknown_kid_cooldown_seconds=0.0, unknown_kid_wait_seconds=0.5)
        verifier = TokenVerifier(SETTINGS, cache)
        await verifier.verify(sign(claims()))
        jwks_server.hang = True
        started = time.perf_counter()
        with pytest.raises(NotAuthenticated):
            await verifier.verify(sign(claims(), key=new_key(), kid="key-unknown"))
        waited = time.perf_counter() - started
        assert 0.4 < waited < 1.5, f"an unknown kid waited {waited:.2f}s"
        # the known key is still served at once
        _, known = await _timed(verifier.verify(sign(claims(jti="again"))))
        assert known < 0.1


async def test_a_healthy_refresh_is_seen_by_the_request_that_started_it(jwks_server: HangingJwks) -> None:
    """The grace wait is what lets a removed key stop working on the first request after the set ages out."""
    async with httpx.AsyncClient(timeout=5.0) as http:
        cache = JwksCache(jwks_server.url, http, max_age_seconds=0.2, unknown_kid_cooldown_seconds=0.0)
        verifier = TokenVerifier(SETTINGS, cache)
        token = sign(claims())
        await verifier.verify(token)
        jwks_server.keys = [jwk(new_key(), "key-2")]  # key-1 removed from the realm
        await asyncio.sleep(0.3)
        with pytest.raises(NotAuthenticated):
            await verifier.verify(token)
