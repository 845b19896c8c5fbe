from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import DEMO_IDS, Tokens, add_member, create_org


@pytest.fixture
async def org(client: httpx.AsyncClient, tokens: Tokens, owner_db: Any) -> dict[str, Any]:
    created = await create_org(client, await tokens.headers("alice"), "Clients")
    for name, role in [("bob", "admin"), ("carol", "manager"), ("dave", "member"), ("erin", "auditor")]:
        await add_member(owner_db, created["id"], DEMO_IDS[name], role)
    return created


async def test_client_crud_archive_and_projects(
    client: httpx.AsyncClient, tokens: Tokens, org: dict[str, Any], owner_db: Any
) -> None:
    carol, dave, alice = [await tokens.headers(n) for n in ("carol", "dave", "alice")]
    base = f"/api/v1/orgs/{org['id']}/clients"
    made = await client.post(
        base, json={"name": "Initech", "contact_name": "Bill", "contact_email": "bill@initech.test"}, headers=carol
    )
    assert made.status_code == 201, made.text
    initech = made.json()
    assert (await client.post(base, json={"name": "Initech"}, headers=carol)).json()["field"] == "name"
    assert (await client.post(base, json={"name": "Nope"}, headers=dave)).status_code == 403
    bad = await client.post(base, json={"name": "X", "contact_email": "not-an-email"}, headers=carol)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["location"][-1] == "contact_email"
    assert (await client.get(f"{base}/{initech['id']}", headers=dave)).json()["contact_name"] == "Bill"
    patched = await client.patch(f"{base}/{initech['id']}", json={"notes": "Big one"}, headers=carol)
    assert patched.json()["notes"] == "Big one"

    # A project of the client; the client can then only be archived, not deleted.
    projects = f"/api/v1/orgs/{org['id']}/projects"
    project = await client.post(projects, json={"name": "TPS", "client_id": initech["id"]}, headers=alice)
    assert project.status_code == 201, project.text
    assert (await client.delete(f"{base}/{initech['id']}", headers=alice)).status_code == 409
    assert (await client.post(f"{base}/{initech['id']}/archive", headers=carol)).json()["archived_at"]
    assert initech["id"] not in {c["id"] for c in (await client.get(base, headers=dave)).json()["items"]}
    listed = (await client.get(base, params={"include_archived": True}, headers=dave)).json()
    assert initech["id"] in {c["id"] for c in listed["items"]}

    spare = (await client.post(base, json={"name": "Spare"}, headers=carol)).json()
    assert (await client.delete(f"{base}/{spare['id']}", headers=carol)).status_code == 403
    assert (await client.delete(f"{base}/{spare['id']}", headers=alice)).status_code == 204
    assert (await client.get(f"{base}/{spare['id']}", headers=alice)).status_code == 404
    actions = await owner_db.fetch(
        "SELECT action FROM audit_events WHERE org_id = $1::uuid AND resource_type = 'client' ORDER BY seq", org["id"]
    )
    assert [a["action"] for a in actions] == [
        "client.created",
        "client.updated",
        "client.archived",
        "client.created",
        "client.deleted",
    ]


async def test_another_tenants_client_is_not_found_nor_linkable(
    client: httpx.AsyncClient, tokens: Tokens, org: dict[str, Any]
) -> None:
    grace, alice = await tokens.headers("grace"), await tokens.headers("alice")
    theirs = await create_org(client, grace, "Theirs")
    foreign = (await client.post(f"/api/v1/orgs/{theirs['id']}/clients", json={"name": "F"}, headers=grace)).json()
    assert (await client.get(f"/api/v1/orgs/{org['id']}/clients/{foreign['id']}", headers=alice)).status_code == 404
    assert (await client.get(f"/api/v1/orgs/{theirs['id']}/clients/{foreign['id']}", headers=alice)).status_code == 404
    linked = await client.post(
        f"/api/v1/orgs/{org['id']}/projects", json={"name": "Linked", "client_id": foreign["id"]}, headers=alice
    )
    assert linked.status_code == 422
    assert linked.json()["field"] == "client_id"


@pytest.mark.parametrize("search", ["\\", "50%", "a_b", "x\\"])
async def test_search_characters_match_literally(
    client: httpx.AsyncClient, tokens: Tokens, demo_orgs: dict[str, Any], search: str
) -> None:
    """Found by schemathesis: a search ending in a backslash made the LIKE pattern invalid (a 500)."""
    response = await client.get(
        f"/api/v1/orgs/{demo_orgs['acme']}/clients", params={"search": search}, headers=await tokens.headers("carol")
    )
    assert response.status_code == 200, response.text
