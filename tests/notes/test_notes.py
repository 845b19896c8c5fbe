from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import DEMO_IDS, Tokens, add_member, create_org


@pytest.fixture
async def org(client: httpx.AsyncClient, tokens: Tokens, owner_db: Any) -> dict[str, Any]:
    created = await create_org(client, await tokens.headers("dave"), "Notes")
    for name, role in [("alice", "owner"), ("bob", "admin"), ("carol", "manager"), ("erin", "auditor")]:
        await add_member(owner_db, created["id"], DEMO_IDS[name], role)
    created["base"] = f"/api/v1/orgs/{created['id']}/notes"
    return created


async def _visible_in_db(runtime_db: Any, org_id: str, user: str, note_id: str) -> int:
    """What row-level security alone lets ``user`` see (no application code involved)."""
    async with runtime_db.transaction():
        await runtime_db.execute(
            "SELECT set_config('app.org_id', $1, true), set_config('app.user_id', $2, true)",
            org_id,
            str(DEMO_IDS[user]),
        )
        return int(await runtime_db.fetchval("SELECT count(*) FROM notes WHERE id = $1::uuid", note_id))


async def test_private_until_shared_even_for_admins_and_auditors(
    client: httpx.AsyncClient, tokens: Tokens, org: dict[str, Any], runtime_db: Any, owner_db: Any
) -> None:
    dave, bob, erin, carol = [await tokens.headers(n) for n in ("dave", "bob", "erin", "carol")]
    base = org["base"]
    made = await client.post(base, json={"title": "Salary thoughts", "body": "*private*"}, headers=dave)
    assert made.status_code == 201, made.text
    note = made.json()
    assert note["my_access"] == "author"
    for outsider in (bob, erin, carol):
        assert (await client.get(f"{base}/{note['id']}", headers=outsider)).status_code == 404
        # The auditor may change no note (403 before any lookup, so nothing leaks); others do not see it.
        patched = await client.patch(f"{base}/{note['id']}", json={"body": "x"}, headers=outsider)
        assert patched.status_code == (403 if outsider is erin else 404)
        assert (await client.get(base, headers=outsider)).json()["total"] == 0
    assert await _visible_in_db(runtime_db, org["id"], "bob", note["id"]) == 0
    assert await _visible_in_db(runtime_db, org["id"], "dave", note["id"]) == 1
    # The audit trail says a note changed, never what it says.
    changes = await owner_db.fetch(
        "SELECT changes::text AS c FROM audit_events WHERE org_id = $1::uuid AND resource_type = 'note'", org["id"]
    )
    assert all("Salary" not in (row["c"] or "") for row in changes)

    # Shared with carol to read: she reads, but neither edits, deletes nor re-shares.
    share = await client.post(f"{base}/{note['id']}/shares", json={"user_id": str(DEMO_IDS["carol"])}, headers=dave)
    assert share.status_code == 200, share.text
    read = await client.get(f"{base}/{note['id']}", headers=carol)
    assert read.status_code == 200 and read.json()["my_access"] == "view"
    assert (await client.patch(f"{base}/{note['id']}", json={"body": "x"}, headers=carol)).status_code == 403
    assert (await client.delete(f"{base}/{note['id']}", headers=carol)).status_code == 403
    reshare = await client.post(f"{base}/{note['id']}/shares", json={"user_id": str(DEMO_IDS["bob"])}, headers=carol)
    assert reshare.status_code == 403
    assert (await client.get(f"{base}/{note['id']}", headers=bob)).status_code == 404  # still private to bob
    # The author's list carries each own note's shares; a reader's carries none.
    listed = {n["id"]: n for n in (await client.get(base, headers=dave)).json()["items"]}
    assert [(s["user_id"], s["permission"]) for s in listed[note["id"]]["shares"]] == [(str(DEMO_IDS["carol"]), "view")]
    assert (
        next(n for n in (await client.get(base, headers=carol)).json()["items"] if n["id"] == note["id"])["shares"]
        is None
    )

    # Upgraded to edit: carol edits; then unshared, the note is gone for her.
    upgraded = await client.post(
        f"{base}/{note['id']}/shares", json={"user_id": str(DEMO_IDS["carol"]), "permission": "edit"}, headers=dave
    )
    assert upgraded.json()["id"] == share.json()["id"]
    edited = await client.patch(f"{base}/{note['id']}", json={"body": "carol was here"}, headers=carol)
    assert edited.status_code == 200 and edited.json()["my_access"] == "edit"
    assert (await client.delete(f"{base}/{note['id']}/shares/{share.json()['id']}", headers=dave)).status_code == 204
    assert (await client.get(f"{base}/{note['id']}", headers=carol)).status_code == 404


async def test_sharing_with_a_project_reaches_its_members(
    client: httpx.AsyncClient, tokens: Tokens, org: dict[str, Any], runtime_db: Any
) -> None:
    dave, carol, erin, grace = [await tokens.headers(n) for n in ("dave", "carol", "erin", "grace")]
    projects = f"/api/v1/orgs/{org['id']}/projects"
    alice = await tokens.headers("alice")
    project = (await client.post(projects, json={"name": "Shared"}, headers=alice)).json()
    await client.put(f"{projects}/{project['id']}/members/{DEMO_IDS['carol']}", json={"role": "viewer"}, headers=alice)
    note = (await client.post(org["base"], json={"title": "Plan", "project_id": project["id"]}, headers=dave)).json()
    shared = await client.post(f"{org['base']}/{note['id']}/shares", json={"project_id": project["id"]}, headers=dave)
    assert shared.status_code == 200
    assert (await client.get(f"{org['base']}/{note['id']}", headers=carol)).status_code == 200
    # The auditor views every project through Casbin, but holds no role in this one: still private.
    assert (await client.get(f"{org['base']}/{note['id']}", headers=erin)).status_code == 404
    assert await _visible_in_db(runtime_db, org["id"], "carol", note["id"]) == 1
    listed = (await client.get(org["base"], params={"project_id": project["id"]}, headers=carol)).json()
    assert [n["id"] for n in listed["items"]] == [note["id"]]
    # Another tenant: 404 on everything.
    assert (await client.get(f"{org['base']}/{note['id']}", headers=grace)).status_code == 404
    # Bad targets name their field.
    bad = await client.post(
        f"{org['base']}/{note['id']}/shares", json={"user_id": str(DEMO_IDS["heidi"])}, headers=dave
    )
    assert bad.status_code == 422 and bad.json()["field"] == "user_id"
    both = await client.post(
        f"{org['base']}/{note['id']}/shares",
        json={"user_id": str(DEMO_IDS["carol"]), "project_id": project["id"]},
        headers=dave,
    )
    assert both.status_code == 422


async def test_pinning_search_and_order(client: httpx.AsyncClient, tokens: Tokens, org: dict[str, Any]) -> None:
    dave = await tokens.headers("dave")
    base = org["base"]
    first = (await client.post(base, json={"title": "Groceries", "body": "banana, apples"}, headers=dave)).json()
    second = (await client.post(base, json={"title": "Ideas", "body": "a banana phone"}, headers=dave)).json()
    third = (await client.post(base, json={"title": "Pinned", "body": "top", "pinned": True}, headers=dave)).json()
    order = [n["id"] for n in (await client.get(base, headers=dave)).json()["items"]]
    assert order == [third["id"], second["id"], first["id"]]
    found = (await client.get(base, params={"q": "banana"}, headers=dave)).json()
    assert {n["id"] for n in found["items"]} == {first["id"], second["id"]}
    assert (await client.get(base, params={"q": "groceries"}, headers=dave)).json()["items"][0]["id"] == first["id"]
    await client.patch(f"{base}/{first['id']}", json={"title": "Shopping", "pinned": True}, headers=dave)
    assert (await client.get(base, params={"q": "shopping"}, headers=dave)).json()["total"] == 1
    assert (await client.get(base, params={"pinned": True}, headers=dave)).json()["total"] == 2
    assert (await client.delete(f"{base}/{second['id']}", headers=dave)).status_code == 204
    assert (await client.get(f"{base}/{second['id']}", headers=dave)).status_code == 404
