"""A member of one organization, using another organization's ids, gets 404 everywhere and changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import DEMO_IDS, Tokens, api_routes, create_org
from tests.routes import BODIES as WALK_BODIES
from tests.routes import WORK_TABLES, work_items

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/api/v1/orgs/{org_id}"): {"name": "Hijacked"},
    ("POST", "/api/v1/orgs/{org_id}/members/invitations"): {"email": "spy@example.test", "role": "member"},
    ("PATCH", "/api/v1/orgs/{org_id}/members/{user_id}"): {"role": "member"},
    ("POST", "/api/v1/orgs/{org_id}/projects"): {"name": "Hijack"},
    ("PATCH", "/api/v1/orgs/{org_id}/projects/{project_id}"): {"name": "Hijacked"},
    ("PUT", "/api/v1/orgs/{org_id}/projects/{project_id}/members/{user_id}"): {"role": "viewer"},
}
BODIES = {**WALK_BODIES, **BODIES}


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
    project = await client.post(f"/api/v1/orgs/{org_b['id']}/projects", json={"name": "Look-alike"}, headers=grace)
    assert project.status_code == 201
    ids = {
        "org_id": org_b["id"],
        "ping_id": ping.json()["id"],
        "project_id": project.json()["id"],
        "user_id": str(DEMO_IDS["grace"]),
        # B's time tracking rows are never reached: the organization itself is a 404 first.
        "entry_id": str(uuid.uuid4()),
        "timesheet_id": str(uuid.uuid4()),
        "import_id": str(uuid.uuid4()),
        "export_id": str(uuid.uuid4()),
        "offboarding_export_id": str(uuid.uuid4()),
        "domain": "look-alike.test",
    }
    ids |= await work_items(client, grace, org_b["id"], ids["project_id"])
    # A's own look-alike project, so the same names exist on both sides.
    await client.post(f"/api/v1/orgs/{org_a['id']}/projects", json={"name": "Look-alike"}, headers=alice)

    async def snapshot() -> list[Any]:
        await owner_db.execute("SELECT set_config('app.org_id', $1, false)", org_b["id"])
        rows = []
        for table in (
            "organizations",
            "memberships",
            "audit_events",
            "diagnostic_pings",
            "projects",
            "project_memberships",
            "time_entries",
            "time_settings",
            "timesheets",
            "time_imports",
            "exports",
            "export_signing_keys",
            "export_settings",
            "member_capacities",
            "sso_domains",
            *WORK_TABLES,
        ):
            rows.append(await owner_db.fetch(f"SELECT * FROM {table} ORDER BY 1"))
        return rows

    before = await snapshot()
    routes = tenant_routes(app)
    assert len(routes) >= 15
    for method, path in routes:
        url = path.format(**ids)
        response = await client.request(method, url, headers=alice, json=BODIES.get((method, path)))
        assert response.status_code == 404, f"{method} {path}: {response.status_code} {response.text}"
        assert response.headers["content-type"] == "application/problem+json"
        # The same answer as for an organization that does not exist at all.
        ghost = await client.request(
            method,
            path.format(**{name: uuid.uuid4() for name in ids}),
            headers=alice,
            json=BODIES.get((method, path)),
        )
        assert ghost.status_code == 404
        assert ghost.json()["detail"] == response.json()["detail"]
    assert await snapshot() == before
    # and A's own routes still work
    assert (await client.get(f"/api/v1/orgs/{org_a['id']}", headers=alice)).status_code == 200
