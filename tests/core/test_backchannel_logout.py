"""Revocation that takes effect now (issue 8): Keycloak's OIDC back-channel logout.

End to end: an API runs in a real uvicorn process so Keycloak can reach it, the test client's
back-channel logout URL points at it, and an admin disables a user and logs out their sessions. Within a
second the user's still-unexpired access token is refused by that process and, through Redis pub/sub,
by the in-process app too.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Keycloak, Tokens
from tests.infra import ROOT

CLIENT_ID = "worktime-cli"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def api_process(migrated: dict[str, str]) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, **migrated, "WORKTIME_ENV": "test", "WORKTIME_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, "-m", "backend", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError("uvicorn did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(20)


class Admin:
    def __init__(self, keycloak: Keycloak) -> None:
        self.keycloak = keycloak
        self.base = f"{keycloak.url}/admin/realms/{keycloak.realm}"

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {await self.keycloak.admin_token()}"}
        async with httpx.AsyncClient(timeout=30) as http:
            return await http.request(method, f"{self.base}{path}", headers=headers, **kwargs)


@pytest.fixture
async def backchannel_to(api_process: str, keycloak: Keycloak) -> AsyncIterator[Admin]:
    """Point the test client's back-channel logout at the uvicorn API, restoring it afterwards."""
    admin = Admin(keycloak)
    found = await admin.call("GET", "/clients", params={"clientId": CLIENT_ID})
    client = found.json()[0]
    original = dict(client)
    client["frontchannelLogout"] = False
    client["attributes"] = {
        **client.get("attributes", {}),
        "backchannel.logout.url": f"{api_process}/api/v1/auth/backchannel-logout",
        "backchannel.logout.session.required": "true",
    }
    assert (await admin.call("PUT", f"/clients/{client['id']}", json=client)).status_code == 204
    try:
        yield admin
    finally:
        await admin.call("PUT", f"/clients/{client['id']}", json=original)


async def _status(http: httpx.AsyncClient, url: str, token: str) -> int:
    return (await http.get(url, headers={"Authorization": f"Bearer {token}"})).status_code


async def test_logging_out_a_disabled_users_sessions_revokes_their_tokens_at_once(
    api_process: str, backchannel_to: Admin, keycloak: Keycloak, client: httpx.AsyncClient, tokens: Tokens
) -> None:
    username = f"revoked-{uuid.uuid4().hex[:8]}"
    password = "Pa55-word-for-tests"
    user_id = await keycloak.create_user(username, password)
    token = (await keycloak.password_token(username, password=password))["access_token"]
    other = await tokens("dave")
    async with httpx.AsyncClient(base_url=api_process, timeout=10) as remote:
        assert await _status(remote, "/api/v1/me", token) == 200
        assert await _status(client, "/api/v1/me", token) == 200  # the in-process app (another process)

        assert (await backchannel_to.call("PUT", f"/users/{user_id}", json={"enabled": False})).status_code == 204
        started = time.monotonic()
        assert (await backchannel_to.call("POST", f"/users/{user_id}/logout")).status_code == 204
        while True:
            statuses = (await _status(remote, "/api/v1/me", token), await _status(client, "/api/v1/me", token))
            if statuses == (401, 401):
                break
            assert time.monotonic() - started < 1.0, f"still accepted after 1 s: {statuses}"
            await asyncio.sleep(0.05)
        print(f"refused {time.monotonic() - started:.3f} s after the logout")  # noqa: T201
        # Somebody else's token is untouched.
        assert await _status(remote, "/api/v1/me", other) == 200
        assert await _status(client, "/api/v1/me", other) == 200


@pytest.mark.parametrize("logout_token", ["not-a-jwt", "a.b.c"])
async def test_an_invalid_logout_token_is_refused(client: httpx.AsyncClient, logout_token: str) -> None:
    response = await client.post("/api/v1/auth/backchannel-logout", data={"logout_token": logout_token})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_an_access_token_is_not_a_logout_token(client: httpx.AsyncClient, tokens: Tokens) -> None:
    response = await client.post("/api/v1/auth/backchannel-logout", data={"logout_token": await tokens("erin")})
    assert response.status_code == 400, response.text
    assert (await client.get("/api/v1/me", headers=await tokens.headers("erin"))).status_code == 200
