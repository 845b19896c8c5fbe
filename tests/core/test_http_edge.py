"""The HTTP edge: body limits, the missing-token gate before the body, security headers, CORS (issue 8)."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from backend.app import create_app
from backend.core.http import BodyLimitMiddleware
from tests.infra import ROOT

MiB = 1024 * 1024


async def _client(settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            yield http


# --------------------------------------------------------------------------- the missing-token gate


async def test_a_request_without_a_token_is_refused_before_its_body_is_read(app: FastAPI) -> None:
    reads = 0

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/orgs",
        "raw_path": b"/api/v1/orgs",
        "query_string": b"",
        "headers": [(b"host", b"t"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1234),
        "server": ("t", 80),
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    assert reads == 0
    assert sent[0]["status"] == 401


async def test_the_gate_answers_like_the_app_does_for_a_missing_token(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/orgs", json={"name": "x", "slug": "x"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "https://worktime.dev/problems/not-authenticated"
    assert body["detail"] == "This endpoint needs a bearer access token."
    assert body["instance"] == "/api/v1/orgs"
    assert body["request_id"] == response.headers["x-request-id"]


async def test_open_routes_stay_open_and_unknown_paths_stay_404(client: httpx.AsyncClient) -> None:
    for path in ("/health/live", "/api/docs", "/api/openapi.json", "/api/docs/oauth2-redirect"):
        assert (await client.get(path)).status_code == 200, path
    assert (await client.get("/api/v1/nothing-here")).status_code == 404


# --------------------------------------------------------------------------- body limits (in process)


async def test_a_declared_body_over_the_limit_is_a_413_at_once(client: httpx.AsyncClient, tokens: Any) -> None:
    response = await client.post(
        "/api/v1/orgs",
        content=b"{}",
        headers={**await tokens.headers("alice"), "Content-Type": "application/json", "Content-Length": str(2 * MiB)},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["max_bytes"] == MiB


async def test_a_streamed_body_over_the_limit_is_a_413(client: httpx.AsyncClient, tokens: Any) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b" " * 64 * 1024  # 2.5 MiB of JSON whitespace, no Content-Length

    response = await client.post(
        "/api/v1/orgs", content=chunks(), headers={**await tokens.headers("alice"), "Content-Type": "application/json"}
    )
    assert response.status_code == 413, response.text
    assert response.json()["type"] == "https://worktime.dev/problems/content-too-large"


async def test_a_body_under_the_limit_is_served(client: httpx.AsyncClient, tokens: Any) -> None:
    padded = b'{"name": "Padded", "slug": "padded-%s"}' % os.urandom(4).hex().encode() + b" " * (MiB - 100)
    response = await client.post(
        "/api/v1/orgs", content=padded, headers={**await tokens.headers("alice"), "Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text


async def test_upload_routes_get_their_own_limit() -> None:
    seen: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            total += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        seen.append(total)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    limited = BodyLimitMiddleware(
        app, max_body_bytes=1000, max_upload_bytes=5000, upload_pattern=r"^/api/v1/orgs/[^/]+/attachments$"
    )
    transport = httpx.ASGITransport(app=limited)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers={"Authorization": "x"}) as http:
        assert (await http.post("/api/v1/orgs/o/attachments", content=b"a" * 4000)).status_code == 204
        assert (await http.post("/api/v1/orgs/o/attachments", content=b"a" * 6000)).status_code == 413
        assert (await http.post("/api/v1/orgs/o/other", content=b"a" * 2000)).status_code == 413
    assert seen == [4000]


# --------------------------------------------------------------------------- 200 MB against a real uvicorn


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _status(pid: int, field: str) -> int:
    for line in open(f"/proc/{pid}/status").read().splitlines():  # noqa: SIM115
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(field)


@pytest.fixture(scope="module")
def uvicorn_server(migrated: dict[str, str]) -> Iterator[tuple[int, int]]:
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
        yield process.pid, port
    finally:
        process.terminate()
        process.wait(20)


def _stream(port: int, head: bytes, total: int) -> tuple[bytes, int]:
    """Send ``head`` and then a chunked body of ``total`` bytes, stopping as soon as the server answers.
    Returns the response bytes read and how many body bytes were sent."""
    sent = 0
    chunk = b" " * (256 * 1024)
    framed = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(head)
        response = b""
        while sent < total:
            readable, _, _ = select.select([conn], [], [], 0)
            if readable:
                break
            try:
                conn.sendall(framed)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        else:
            conn.sendall(b"0\r\n\r\n")
        conn.settimeout(30)
        try:
            while b"\r\n\r\n" not in response or len(response) < 200:
                data = conn.recv(65536)
                if not data:
                    break
                response += data
        except (ConnectionResetError, TimeoutError):
            pass
    return response, sent


@pytest.mark.parametrize("authorization", [b"Authorization: Bearer not-a-token\r\n", b""])
def test_a_200_mb_streamed_body_keeps_the_server_small(uvicorn_server: tuple[int, int], authorization: bytes) -> None:
    pid, port = uvicorn_server
    before = _status(pid, "VmRSS")
    head = (
        b"POST /api/v1/orgs HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n" + authorization + b"\r\n"
    )
    response, sent = _stream(port, head, 200 * MiB)
    after = _status(pid, "VmRSS")
    status = int(response.split(b" ", 2)[1])
    assert status == (413 if authorization else 401), response[:300]
    growth = after - before
    print(f"body sent before the answer: {sent / MiB:.1f} MiB, server RSS {before / MiB:.1f} -> {after / MiB:.1f} MiB")  # noqa: T201 (the measured figure, with -s)
    assert growth < 30 * MiB, f"server RSS grew by {growth / MiB:.1f} MiB"
    assert sent < 200 * MiB  # the server answered long before the body was complete


def test_a_200_mb_declared_body_is_refused_before_it_is_sent(uvicorn_server: tuple[int, int]) -> None:
    _, port = uvicorn_server
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(
            b"POST /api/v1/orgs HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer x\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (200 * MiB)
        )
        response = conn.recv(65536)
    assert response.startswith(b"HTTP/1.1 413"), response[:200]


# --------------------------------------------------------------------------- security headers and CORS

COMMON = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY"}


@pytest.mark.parametrize("path", ["/health/live", "/api/v1/me", "/api/v1/nothing-here", "/api/openapi.json"])
async def test_every_response_carries_the_security_headers(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    for name, value in COMMON.items():
        assert response.headers[name] == value, name
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "strict-transport-security" not in response.headers  # not production


async def test_the_docs_page_gets_a_csp_that_lets_swagger_ui_work(client: httpx.AsyncClient, settings: Any) -> None:
    import base64
    import hashlib
    import re

    for path in ("/api/docs", "/api/docs/oauth2-redirect"):
        response = await client.get(path)
        csp = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
        for script in re.findall(rb"<script>(.*?)</script>", response.content, re.DOTALL):
            digest = base64.b64encode(hashlib.sha256(script).digest()).decode()
            assert f"'sha256-{digest}'" in csp["script-src"]
        assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
        assert csp["frame-ancestors"] == "'none'"
    docs = await client.get("/api/docs")
    for src in re.findall(r'(?:src|href)="(https://[^/"]+)', docs.text):
        assert src in csp["script-src"] or src in csp["style-src"] or src in csp["img-src"], src
    keycloak = settings.keycloak_issuer.split("/realms/")[0]
    assert keycloak in csp["connect-src"]


async def test_hsts_only_in_production(settings: Any) -> None:
    async for http in _client(settings.model_copy(update={"env": "production"})):
        response = await http.get("/health/live")
        assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_no_cors_headers_by_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in response.headers


async def test_cors_allows_only_the_configured_origins(settings: Any, tokens: Any) -> None:
    custom = settings.model_copy(update={"cors_origins": ["https://app.example"]})
    async for http in _client(custom):
        preflight = await http.options(
            "/api/v1/me",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        real = await http.get("/api/v1/me", headers={"Origin": "https://app.example", **await tokens.headers("alice")})
        assert real.status_code == 200
        assert real.headers["access-control-allow-origin"] == "https://app.example"
        assert "x-request-id" in real.headers["access-control-expose-headers"].lower()
        stranger = await http.options(
            "/api/v1/me", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
        )
        assert stranger.status_code == 400
        assert "access-control-allow-origin" not in stranger.headers
