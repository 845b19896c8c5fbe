from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import DEMO_IDS, Tokens, add_member, create_org


@pytest.fixture
async def team(client: httpx.AsyncClient, tokens: Tokens, owner_db: Any) -> dict[str, Any]:
    """A fresh organization with one project WEB: carol leads it, dave contributes, bob (admin) and erin
    (auditor) reach it through their organization roles; heidi is not a member."""
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, "Work")
    for name, role in [("bob", "admin"), ("carol", "manager"), ("dave", "member"), ("erin", "auditor")]:
        await add_member(owner_db, org["id"], DEMO_IDS[name], role)
    base = f"/api/v1/orgs/{org['id']}"
    key = "W" + uuid.uuid4().hex[:4].upper()
    project = (await client.post(f"{base}/projects", json={"name": "Website", "key": key}, headers=alice)).json()
    url = f"{base}/projects/{project['id']}"
    for name, role in [("carol", "lead"), ("dave", "contributor")]:
        added = await client.put(f"{url}/members/{DEMO_IDS[name]}", json={"role": role}, headers=alice)
        assert added.status_code == 200, added.text
    return {"org": org, "base": base, "project": project, "tasks": f"{url}/tasks", "key": key}
