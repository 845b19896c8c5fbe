"""An archived organization or project is read-only in every domain, decided by the guard alone."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import DEMO_IDS, Tokens, add_member, api_routes, create_org
from tests.routes import (
    ARCHIVED_WRITES,
    BODIES,
    INVITEE_ROUTES,
    QUERIES,
    SELF_SERVICE,
    fill,
    is_write,
    prepare_exports,
    prepare_tracking,
    work_items,
)


async def _audit_count(owner_db: Any, org_id: str) -> int:
    return int(await owner_db.fetchval("SELECT count(*) FROM audit_events WHERE org_id = $1::uuid", org_id))


async def test_every_write_route_is_refused_in_an_archived_organization(
    app: FastAPI, client: httpx.AsyncClient, tokens: Tokens, owner_db: Any
) -> None:
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, "Frozen")
    base = f"/api/v1/orgs/{org['id']}"
    project = (await client.post(f"{base}/projects", json={"name": "Frozen work"}, headers=alice)).json()
    await add_member(owner_db, org["id"], DEMO_IDS["dave"], "member")
    ping = (await client.post(f"{base}/diagnostics/pings", headers=alice)).json()
    tracked = await prepare_tracking(client, org["id"], project["id"], alice)
    items = await work_items(client, alice, org["id"], project["id"])
    items |= await prepare_exports(client, org["id"], alice)
    assert (await client.post(f"{base}/archive", headers=alice)).status_code == 200
    ids = {"org_id": org["id"], "project_id": project["id"], "user_id": str(DEMO_IDS["dave"]), "ping_id": ping["id"]}
    ids |= tracked | items
    await add_member(owner_db, org["id"], DEMO_IDS["heidi"], "member", status="invited")
    heidi = await tokens.headers("heidi")
    audit_before = await _audit_count(owner_db, org["id"])

    walked, wrong = [], []
    for method, path in api_routes(app):
        if (method, path) in SELF_SERVICE or (method, path) in ARCHIVED_WRITES:
            continue
        caller = heidi if (method, path) in INVITEE_ROUTES else alice
        response = await client.request(
            method,
            path.format(**ids),
            headers=caller,
            json=fill(BODIES.get((method, path)), ids),
            params=QUERIES.get((method, path)),
        )
        if is_write(method):
            walked.append((method, path))
            if response.status_code != 409 or "archived" not in response.json().get("detail", ""):
                wrong.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
        elif response.status_code != 200:
            wrong.append(f"{method} {path} (a read) answered {response.status_code}: {response.text[:200]}")
    assert wrong == []
    assert len(walked) >= 12
    # Nothing changed: no audit event, the project and the invitation as they were.
    assert await _audit_count(owner_db, org["id"]) == audit_before
    assert (await client.get(f"{base}/projects/{project['id']}", headers=alice)).json()["name"] == "Frozen work"
    (still_invited,) = await owner_db.fetch(
        "SELECT status FROM memberships WHERE org_id = $1::uuid AND user_id = $2", org["id"], DEMO_IDS["heidi"]
    )
    assert still_invited["status"] == "invited"


async def test_every_write_route_of_an_archived_project_is_refused(
    app: FastAPI, client: httpx.AsyncClient, tokens: Tokens, owner_db: Any
) -> None:
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, "Project Frozen")
    base = f"/api/v1/orgs/{org['id']}"
    project = (await client.post(f"{base}/projects", json={"name": "Done"}, headers=alice)).json()
    await add_member(owner_db, org["id"], DEMO_IDS["dave"], "member")
    items = await work_items(client, alice, org["id"], project["id"])
    assert (await client.post(f"{base}/projects/{project['id']}/archive", headers=alice)).status_code == 200
    ids = {"org_id": org["id"], "project_id": project["id"], "user_id": str(DEMO_IDS["dave"])} | items

    project_writes = [
        (method, path)
        for method, path in api_routes(app)
        if path.startswith("/api/v1/orgs/{org_id}/projects/{project_id}") and is_write(method)
    ]
    assert len(project_writes) >= 4
    for method, path in project_writes:
        response = await client.request(method, path.format(**ids), headers=alice, json=BODIES.get((method, path)))
        assert response.status_code == 409, f"{method} {path}: {response.text}"
        assert "project is archived" in response.json()["detail"]
    # The organization itself is still writable.
    other = await client.post(f"{base}/projects", json={"name": "Next"}, headers=alice)
    assert other.status_code == 201
    assert (await client.get(f"{base}/projects/{project['id']}", headers=alice)).status_code == 200
