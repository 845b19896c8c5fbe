"""A member of one organization, using another organization's ids, gets 404 everywhere and changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import Tokens, api_routes, create_org

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/api/v1/orgs/{org_id}"): {"name": "Hijacked"},
}


def tenant_routes(app: FastAPI) -> list[tuple[str, str]]:
    return [(method, path) for method, path in api_routes(app) if "{org_id}" in path]


async def test_cross_tenant_ids_get_404_on_every_tenant_route(
    app: FastAPI, client: httpx.AsyncClient, tokens: Tokens, owner_db: Any
) -> None:
    alice, grace = await tokens.headers("alice"), await tokens.headers("grace")
    org_a = await create_org(client, alice, "Look-alike")
    org_b = await create_org(client, grace, "Look-alike")
    ping = await client.post(f"/api/v1/orgs/{org_b['id']}/diagnostics/pings", headers=grace)
    assert ping.status_code == 202
    ids = {"org_id": org_b["id"], "ping_id": ping.json()["id"]}

    async def snapshot() -> list[Any]:
        await owner_db.execute("SELECT set_config('app.org_id', $1, false)", org_b["id"])
        rows = []
        for table in ("organizations", "memberships", "audit_events", "diagnostic_pings"):
            rows.append(await owner_db.fetch(f"SELECT * FROM {table} ORDER BY 1"))
        return rows

    before = await snapshot()
    routes = tenant_routes(app)
    assert len(routes) >= 7
    for method, path in routes:
        url = path.format(**ids)
        response = await client.request(method, url, headers=alice, json=BODIES.get((method, path)))
        assert response.status_code == 404, f"{method} {path}: {response.status_code} {response.text}"
        assert response.headers["content-type"] == "application/problem+json"
        # The same answer as for an organization that does not exist at all.
        ghost = await client.request(
            method,
            path.format(org_id=uuid.uuid4(), ping_id=uuid.uuid4()),
            headers=alice,
            json=BODIES.get((method, path)),
        )
        assert ghost.status_code == 404
        assert ghost.json()["detail"] == response.json()["detail"]
    assert await snapshot() == before
    # and A's own routes still work
    assert (await client.get(f"/api/v1/orgs/{org_a['id']}", headers=alice)).status_code == 200
