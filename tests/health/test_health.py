from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from backend.app import create_app


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_live(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_everything_is_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"postgres": "ok", "redis": "ok", "keycloak": "ok"}


class RedisServer:
    """A redis-server of our own, so the test can really stop and restart it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            subprocess.run(["sleep", "0.05"], check=False)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


async def _client_for(settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            yield http


async def test_ready_reports_redis_down_and_recovers(settings: Any, own_redis: RedisServer) -> None:
    custom = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{own_redis.port}/0"})
    async for http in _client_for(custom):
        assert (await http.get("/health/ready")).status_code == 200

        own_redis.stop()
        response = await http.get("/health/ready")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["failing"] == ["redis"]
        assert body["checks"]["postgres"] == "ok"
        assert "redis" in body["detail"]

        own_redis.start()
        for _ in range(50):
            if (await http.get("/health/ready")).status_code == 200:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("readiness did not recover after Redis came back")


async def test_ready_reports_postgres_down(settings: Any) -> None:
    closed = free_port()
    custom = settings.model_copy(
        update={"database_url": f"postgresql+asyncpg://worktime_app:worktime_app@127.0.0.1:{closed}/worktime"}
    )
    async for http in _client_for(custom):
        response = await http.get("/health/ready")
        assert response.status_code == 503
        body = response.json()
        assert body["failing"] == ["postgres"]
        assert body["checks"]["redis"] == "ok"


async def test_api_answers_503_when_postgres_is_unreachable(settings: Any, tokens: Any) -> None:
    closed = free_port()
    custom = settings.model_copy(
        update={"database_url": f"postgresql+asyncpg://worktime_app:worktime_app@127.0.0.1:{closed}/worktime"}
    )
    headers = await tokens.headers("alice")
    async for http in _client_for(custom):
        response = await http.get("/api/v1/me", headers=headers)
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["dependency"] == "postgres"
        assert "asyncpg" not in response.text and "Traceback" not in response.text
