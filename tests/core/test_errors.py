from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter
from sqlalchemy import event

from backend.app import create_app
from backend.diagnostics.models import Ping
from backend.tenancy.context import CurrentOrg


async def test_an_unexpected_error_is_a_bare_500_problem(settings: Any) -> None:
    app = create_app(settings)
    boom = APIRouter()

    @boom.get("/boom")
    async def explode() -> None:
        raise RuntimeError("SELECT password FROM secrets WHERE id = 42")

    app.include_router(boom)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
        ) as http,
    ):
        response = await http.get("/boom", headers={"X-Request-ID": "trace-me-1"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "trace-me-1"
    body = response.json()
    assert body["status"] == 500
    assert body["request_id"] == "trace-me-1"
    for leak in ("SELECT", "secrets", "Traceback", "RuntimeError", "explode"):
        assert leak not in response.text


async def test_unknown_routes_and_methods_are_problems(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong_method = await client.delete("/health/live")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["status"] == 405


async def test_malformed_json_is_a_422_problem(client: httpx.AsyncClient, tokens: Any) -> None:
    response = await client.post(
        "/api/v1/orgs",
        content=b"{not json",
        headers={**await tokens.headers("alice"), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_failed_commit_is_the_clients_error_and_stores_nothing(
    settings: Any, tokens: Any, demo_orgs: dict[str, Any], owner_db: Any
) -> None:
    """The unit of work commits before the response is sent: if COMMIT fails, the caller hears it."""
    app = create_app(settings)
    failing = APIRouter()

    @failing.post("/api/v1/orgs/{org_id}/commit-fails")
    async def write_then_fail(ctx: CurrentOrg) -> dict[str, str]:
        ping = Ping(org_id=ctx.org_id, requested_by=ctx.user_id)
        ctx.session.add(ping)
        await ctx.session.flush()

        def refuse(_: Any) -> None:
            raise RuntimeError("the database refused to commit")

        event.listen(ctx.session.sync_session, "before_commit", refuse)
        return {"id": str(ping.id)}

    app.include_router(failing)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
        ) as http,
    ):
        before = await owner_db.fetchval("SELECT count(*) FROM diagnostic_pings")
        response = await http.post(
            f"/api/v1/orgs/{demo_orgs['acme']}/commit-fails", headers=await tokens.headers("alice")
        )
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert await owner_db.fetchval("SELECT count(*) FROM diagnostic_pings") == before
