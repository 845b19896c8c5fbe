from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import DEMO_IDS, Tokens, add_member, create_org


@pytest.fixture
async def org(client: httpx.AsyncClient, tokens: Tokens, owner_db: Any) -> dict[str, Any]:
    alice = await tokens.headers("alice")
    created = await create_org(client, alice, "Decisions")
    for name, role in [("bob", "admin"), ("carol", "member"), ("dave", "member"), ("erin", "auditor")]:
        await add_member(owner_db, created["id"], DEMO_IDS[name], role)
    base = f"/api/v1/orgs/{created['id']}"
    project = (await client.post(f"{base}/projects", json={"name": "Arch"}, headers=alice)).json()
    for name, role in [("carol", "lead"), ("dave", "contributor")]:
        await client.put(
            f"{base}/projects/{project['id']}/members/{DEMO_IDS[name]}", json={"role": role}, headers=alice
        )
    return {"base": f"{base}/decisions", "project": project, "org": created}


async def test_lifecycle_and_immutability(client: httpx.AsyncClient, tokens: Tokens, org: dict[str, Any]) -> None:
    carol, dave, erin = [await tokens.headers(n) for n in ("carol", "dave", "erin")]
    base, project_id = org["base"], org["project"]["id"]
    made = await client.post(
        base, json={"title": "Postgres", "context": "We need a DB", "project_id": project_id}, headers=dave
    )
    assert made.status_code == 201, made.text
    first = made.json()
    assert first["status"] == "proposed" and first["decided_at"] is None
    url = f"{base}/{first['id']}"
    assert (await client.patch(url, json={"decision": "Use Postgres 15"}, headers=dave)).status_code == 200
    assert (await client.post(f"{url}/accept", headers=dave)).status_code == 403  # contributors propose only
    accepted = await client.post(f"{url}/accept", headers=carol)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["decided_by"] == str(DEMO_IDS["carol"]) and accepted.json()["decided_at"]
    # Accepted: immutable, except for being superseded.
    changed = await client.patch(url, json={"title": "Rewritten history"}, headers=carol)
    assert changed.status_code == 409
    assert (await client.delete(url, headers=carol)).status_code == 409
    assert (await client.post(f"{url}/reject", headers=carol)).status_code == 409
    second = (await client.post(base, json={"title": "Postgres 17", "project_id": project_id}, headers=dave)).json()
    early = await client.post(f"{url}/supersede", json={"superseded_by": second["id"]}, headers=carol)
    assert early.status_code == 422 and early.json()["field"] == "superseded_by"
    await client.post(f"{base}/{second['id']}/accept", headers=carol)
    superseded = await client.post(f"{url}/supersede", json={"superseded_by": second["id"]}, headers=carol)
    assert superseded.status_code == 200
    assert (superseded.json()["status"], superseded.json()["superseded_by_id"]) == ("superseded", second["id"])
    assert (
        await client.post(f"{url}/supersede", json={"superseded_by": second["id"]}, headers=carol)
    ).status_code == 409
    listed = (await client.get(base, params={"project_id": project_id}, headers=erin)).json()
    assert [d["title"] for d in listed["items"]] == ["Postgres 17", "Postgres"]
    assert (await client.get(base, params={"status": "superseded"}, headers=erin)).json()["total"] == 1
    # A proposal can be withdrawn; rejected ones are final.
    third = (await client.post(base, json={"title": "MySQL", "project_id": project_id}, headers=dave)).json()
    assert (await client.post(f"{base}/{third['id']}/reject", headers=carol)).json()["status"] == "rejected"
    fourth = (await client.post(base, json={"title": "Maybe"}, headers=dave)).json()
    assert (await client.delete(f"{base}/{fourth['id']}", headers=dave)).status_code == 204


async def test_org_decisions_and_project_visibility(
    client: httpx.AsyncClient, tokens: Tokens, org: dict[str, Any], owner_db: Any
) -> None:
    alice, bob, carol, grace = [await tokens.headers(n) for n in ("alice", "bob", "carol", "grace")]
    base = org["base"]
    org_wide = (await client.post(base, json={"title": "Remote first"}, headers=carol)).json()
    # Organization-wide decisions are decided by admins, not by project leads.
    assert (await client.post(f"{base}/{org_wide['id']}/accept", headers=carol)).status_code == 403
    assert (await client.post(f"{base}/{org_wide['id']}/accept", headers=bob)).status_code == 200
    hidden = (
        await client.post(f"/api/v1/orgs/{org['org']['id']}/projects", json={"name": "Secret"}, headers=alice)
    ).json()
    secret = (await client.post(base, json={"title": "Acquire X", "project_id": hidden["id"]}, headers=alice)).json()
    assert (await client.get(f"{base}/{secret['id']}", headers=carol)).status_code == 403
    titles = {d["title"] for d in (await client.get(base, headers=carol)).json()["items"]}
    assert "Acquire X" not in titles and "Remote first" in titles
    assert (await client.get(f"{base}/{secret['id']}", headers=grace)).status_code == 404
    bad = await client.post(base, json={"title": "X", "project_id": org["org"]["id"]}, headers=carol)
    assert bad.status_code == 422 and bad.json()["field"] == "project_id"
