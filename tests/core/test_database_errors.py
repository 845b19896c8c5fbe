"""Postgres starting up, shutting down or full is a 503 problem; a wrong query stays a 500 (issue 8)."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy.exc
from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import text

from backend.app import create_app
from backend.core.errors import is_database_unavailable


def _wrapped(orig: BaseException) -> sqlalchemy.exc.DBAPIError:
    """What SQLAlchemy's asyncpg adapter hands us: a DBAPIError around the driver error, caused by it."""
    error = sqlalchemy.exc.DBAPIError("SELECT 1", {}, orig)
    error.__cause__ = orig
    return error


UNAVAILABLE = [
    asyncpg.CannotConnectNowError("the database system is starting up"),
    asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.CrashShutdownError("terminating connection because of crash of another server process"),
    asyncpg.TooManyConnectionsError("sorry, too many clients already"),
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.ConnectionFailureError("connection failure"),
    asyncpg.InterfaceError("connection is closed"),
    ConnectionRefusedError(111, "Connection refused"),
    ConnectionResetError(104, "Connection reset by peer"),
    TimeoutError(),
]
QUERY_BUGS = [
    asyncpg.UniqueViolationError("duplicate key value violates unique constraint"),
    asyncpg.PostgresSyntaxError("syntax error at or near"),
    asyncpg.NumericValueOutOfRangeError("value out of range for type bigint"),
    asyncpg.CharacterNotInRepertoireError("invalid byte sequence for encoding UTF8: 0x00"),
    asyncpg.DivisionByZeroError("division by zero"),
    asyncpg.QueryCanceledError("canceling statement due to statement timeout"),
    asyncpg.InsufficientPrivilegeError("permission denied for table"),
    ValueError("not a database error"),
]


@pytest.mark.parametrize("orig", UNAVAILABLE, ids=lambda e: type(e).__name__)
def test_connection_class_errors_are_unavailable(orig: BaseException) -> None:
    assert is_database_unavailable(_wrapped(orig))
    assert is_database_unavailable(orig)


@pytest.mark.parametrize("orig", QUERY_BUGS, ids=lambda e: type(e).__name__)
def test_query_errors_are_not_unavailable(orig: BaseException) -> None:
    assert not is_database_unavailable(_wrapped(orig))
    assert not is_database_unavailable(orig)


@pytest.mark.parametrize("sqlstate", ["08000", "08003", "08006", "08001", "57P01", "57P02", "57P03", "53300"])
def test_the_sqlstate_decides_for_a_generic_driver_error(sqlstate: str) -> None:
    class AdaptedError(Exception):  # like SQLAlchemy's AsyncAdapt_asyncpg_dbapi.Error: only a SQLSTATE
        pass

    orig = AdaptedError("whatever the server said")
    orig.sqlstate = sqlstate  # type: ignore[attr-defined]
    assert is_database_unavailable(sqlalchemy.exc.DBAPIError("SELECT 1", {}, orig))
    orig.sqlstate = "23505"  # type: ignore[attr-defined]
    assert not is_database_unavailable(sqlalchemy.exc.DBAPIError("SELECT 1", {}, orig))


def test_the_usual_sqlalchemy_connection_errors_stay_unavailable() -> None:
    for error in (
        sqlalchemy.exc.InterfaceError("SELECT 1", {}, Exception("closed")),
        sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("gone")),
        sqlalchemy.exc.TimeoutError("QueuePool limit reached"),
    ):
        assert is_database_unavailable(error)
    assert not is_database_unavailable(sqlalchemy.exc.ProgrammingError("SELEC 1", {}, Exception("syntax")))


# --------------------------------------------------------------------------- a real "starting up" server


class FakePostgres:
    """Speaks just enough of the Postgres protocol to refuse a connection the way a starting, stopping or
    full server does: it answers the startup packet with a FATAL ErrorResponse carrying ``sqlstate``."""

    def __init__(self, sqlstate: str, message: str) -> None:
        self.sqlstate, self.message = sqlstate, message
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> FakePostgres:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                (length,) = struct.unpack("!I", await reader.readexactly(4))
                body = await reader.readexactly(length - 4)
                if struct.unpack("!I", body[:4])[0] in (80877103, 80877104):  # SSLRequest, GSSENCRequest
                    writer.write(b"N")
                    await writer.drain()
                    continue
                break
            fields = b"".join(
                kind + value.encode() + b"\0"
                for kind, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", self.sqlstate), (b"M", self.message))
            )
            payload = fields + b"\0"
            writer.write(b"E" + struct.pack("!I", len(payload) + 4) + payload)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _client(settings: Any, app: FastAPI | None = None) -> AsyncIterator[httpx.AsyncClient]:
    application = app or create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            yield http


@pytest.mark.parametrize(
    ("sqlstate", "message"),
    [
        ("57P03", "the database system is starting up"),
        ("57P01", "terminating connection due to administrator command"),
        ("53300", "sorry, too many clients already"),
        ("08004", "server rejected the connection"),
    ],
)
async def test_a_refusing_postgres_is_a_503_with_retry_after(
    settings: Any, tokens: Any, sqlstate: str, message: str
) -> None:
    headers = await tokens.headers("alice")
    async with FakePostgres(sqlstate, message) as fake:
        url = f"postgresql+asyncpg://worktime_app:worktime_app@127.0.0.1:{fake.port}/worktime"
        async for http in _client(settings.model_copy(update={"database_url": url})):
            response = await http.get("/api/v1/me", headers=headers)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert body["dependency"] == "postgres"
    assert message not in response.text and "asyncpg" not in response.text


# --------------------------------------------------------------------------- the real Postgres


def _app_with_routes(settings: Any) -> FastAPI:
    app = create_app(settings)
    router = APIRouter()

    @router.get("/terminated")
    async def terminated(request: Request) -> None:
        async with request.app.state.db.engine.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
            await connection.execute(text("SELECT 1"))

    @router.get("/division")
    async def division(request: Request) -> None:
        async with request.app.state.db.engine.connect() as connection:
            await connection.execute(text("SELECT 1 / 0"))

    @router.get("/overflow")
    async def overflow(request: Request) -> None:
        async with request.app.state.db.engine.connect() as connection:
            await connection.execute(text("SELECT CAST(:big AS bigint)"), {"big": str(2**63)})

    @router.get("/deadlock")
    async def deadlock(request: Request) -> None:
        # Two transactions take two advisory locks in opposite orders: Postgres aborts one of them (40P01).
        engine = request.app.state.db.engine
        both_hold_one = asyncio.Barrier(2)

        async def take(first: int, second: int) -> None:
            async with engine.begin() as connection:
                await connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": first})
                await both_hold_one.wait()
                await connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": second})

        keys = 7_300_000 + os.getpid() % 1000 * 2
        await asyncio.gather(take(keys, keys + 1), take(keys + 1, keys))

    app.include_router(router)
    return app


async def test_a_connection_killed_by_the_server_is_a_503(settings: Any) -> None:
    async for http in _client(settings, _app_with_routes(settings)):
        response = await http.get("/terminated")
        assert response.status_code == 503, response.text
        assert response.json()["dependency"] == "postgres"
        assert response.headers["retry-after"] == "5"


async def test_a_deadlock_is_a_409_to_retry_not_a_500(settings: Any) -> None:
    async for http in _client(settings, _app_with_routes(settings)):
        response = await http.get("/deadlock")
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    body = response.json()
    assert body["type"].endswith("/concurrent-change") and body["sqlstate"] == "40P01"
    assert "Retry the request" in body["detail"]


@pytest.mark.parametrize("path", ["/division", "/overflow"])
async def test_a_wrong_query_on_the_real_postgres_stays_a_500(settings: Any, path: str) -> None:
    async for http in _client(settings, _app_with_routes(settings)):
        response = await http.get(path)
        assert response.status_code == 500, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "dependency" not in response.json()


def test_a_closed_port_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(OSError) as caught:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert is_database_unavailable(caught.value)


async def test_a_value_postgres_refuses_is_a_422_not_a_500(client: Any, tokens: Any, demo_orgs: Any) -> None:
    """A NUL in a text field that no validator checks reaches Postgres (SQLSTATE 22021): the caller's 422."""
    response = await client.post(
        f"/api/v1/orgs/{demo_orgs['acme']}/events",
        json={
            "title": "NUL in the description",
            "description": "before\u0000after",
            "starts_at": "2026-12-01T09:00:00Z",
            "ends_at": "2026-12-01T10:00:00Z",
        },
        headers=await tokens.headers("dave"),
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
