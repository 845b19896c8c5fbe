from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import event, text

from tests.conftest import DEMO_IDS, Tokens, add_member, create_org


@pytest.fixture
async def org(client: httpx.AsyncClient, tokens: Tokens, owner_db: Any) -> dict[str, Any]:
    created = await create_org(client, await tokens.headers("alice"), "Projects")
    for name, role in [("bob", "admin"), ("carol", "manager"), ("dave", "member"), ("erin", "auditor")]:
        await add_member(owner_db, created["id"], DEMO_IDS[name], role)
    return created


async def test_a_manager_leads_the_projects_they_create_and_only_those(
    client: httpx.AsyncClient, tokens: Tokens, org: dict[str, Any]
) -> None:
    carol, alice = await tokens.headers("carol"), await tokens.headers("alice")
    base = f"/api/v1/orgs/{org['id']}/projects"
    mine = await client.post(base, json={"name": "Carol's", "description": "hers"}, headers=carol)
    assert mine.status_code == 201
    assert mine.json()["my_role"] == "lead"
    theirs = (await client.post(base, json={"name": "Alice's"}, headers=alice)).json()
    assert (
        await client.patch(f"{base}/{mine.json()['id']}", json={"name": "Carol's v2"}, headers=carol)
    ).status_code == 200
    assert (await client.patch(f"{base}/{theirs['id']}", json={"name": "Taken over"}, headers=carol)).status_code == 403
    assert (await client.get(f"{base}/{theirs['id']}", headers=carol)).status_code == 403
    listed = (await client.get(base, headers=carol)).json()
    assert {p["name"]: p["my_role"] for p in listed["items"]} == {"Alice's": None, "Carol's v2": "lead"}


async def test_project_roles_follow_the_membership(
    client: httpx.AsyncClient, tokens: Tokens, org: dict[str, Any]
) -> None:
    alice, dave = await tokens.headers("alice"), await tokens.headers("dave")
    project = (await client.post(f"/api/v1/orgs/{org['id']}/projects", json={"name": "Shared"}, headers=alice)).json()
    url = f"/api/v1/orgs/{org['id']}/projects/{project['id']}"
    assert (await client.get(url, headers=dave)).status_code == 403
    added = await client.put(f"{url}/members/{DEMO_IDS['dave']}", json={"role": "contributor"}, headers=alice)
    assert added.status_code == 200
    assert (await client.get(url, headers=dave)).json()["my_role"] == "contributor"
    assert (await client.patch(url, json={"name": "Dave's"}, headers=dave)).status_code == 403
    members = (await client.get(f"{url}/members", headers=dave)).json()
    assert {m["email"]: m["role"] for m in members} == {"alice@acme.test": "lead", "dave@acme.test": "contributor"}
    assert (await client.delete(f"{url}/members/{DEMO_IDS['dave']}", headers=alice)).status_code == 204
    assert (await client.get(url, headers=dave)).status_code == 403


async def test_leaving_the_organization_ends_every_project_role(
    client: httpx.AsyncClient, tokens: Tokens, org: dict[str, Any], owner_db: Any
) -> None:
    alice = await tokens.headers("alice")
    project = (await client.post(f"/api/v1/orgs/{org['id']}/projects", json={"name": "Door"}, headers=alice)).json()
    url = f"/api/v1/orgs/{org['id']}/projects/{project['id']}"
    await client.put(f"{url}/members/{DEMO_IDS['dave']}", json={"role": "lead"}, headers=alice)
    removed = await client.delete(f"/api/v1/orgs/{org['id']}/members/{DEMO_IDS['dave']}", headers=alice)
    assert removed.status_code == 204
    members = (await client.get(f"{url}/members", headers=alice)).json()
    assert str(DEMO_IDS["dave"]) not in {m["user_id"] for m in members}
    # Re-admitted later, dave starts with no project role: nothing lingered.
    await add_member(owner_db, org["id"], DEMO_IDS["dave"], "member")
    assert (await client.get(url, headers=await tokens.headers("dave"))).status_code == 403


async def test_only_organization_members_can_join_a_project(
    client: httpx.AsyncClient, tokens: Tokens, org: dict[str, Any]
) -> None:
    alice = await tokens.headers("alice")
    project = (await client.post(f"/api/v1/orgs/{org['id']}/projects", json={"name": "Closed"}, headers=alice)).json()
    outsider = await client.put(
        f"/api/v1/orgs/{org['id']}/projects/{project['id']}/members/{DEMO_IDS['heidi']}",
        json={"role": "viewer"},
        headers=alice,
    )
    assert outsider.status_code == 404


async def test_names_are_unique_per_organization_and_archive_freezes(
    client: httpx.AsyncClient, tokens: Tokens, org: dict[str, Any]
) -> None:
    alice = await tokens.headers("alice")
    base = f"/api/v1/orgs/{org['id']}/projects"
    first = (await client.post(base, json={"name": "Twin"}, headers=alice)).json()
    duplicate = await client.post(base, json={"name": "Twin"}, headers=alice)
    assert duplicate.status_code == 409
    assert duplicate.json()["field"] == "name"
    other_org = await create_org(client, alice, "Elsewhere")
    assert (
        await client.post(f"/api/v1/orgs/{other_org['id']}/projects", json={"name": "Twin"}, headers=alice)
    ).status_code == 201
    assert (await client.post(f"{base}/{first['id']}/archive", headers=alice)).status_code == 200
    assert (await client.patch(f"{base}/{first['id']}", json={"name": "Thaw"}, headers=alice)).status_code == 409
    listed = (await client.get(base, headers=alice)).json()["items"]
    assert first["id"] not in {p["id"] for p in listed}


async def test_project_fields_keys_and_filters(client: httpx.AsyncClient, tokens: Tokens, org: dict[str, Any]) -> None:
    alice = await tokens.headers("alice")
    base = f"/api/v1/orgs/{org['id']}/projects"
    customer = (await client.post(f"/api/v1/orgs/{org['id']}/clients", json={"name": "ACME"}, headers=alice)).json()
    web = await client.post(
        base,
        json={
            "name": "Website",
            "key": "web",
            "client_id": customer["id"],
            "status": "planned",
            "priority": "high",
            "color": "#A1B2C3",
            "tags": ["Design", "web"],
            "start_date": "2026-12-01",
            "due_date": "2027-02-01",
            "estimate_hours": "120.5",
            "budget_kind": "money",
            "budget_period": "monthly",
            "budget_amount": "5000",
            "currency": "eur",
            "billable": True,
            "hourly_rate": "95.00",
        },
        headers=alice,
    )
    assert web.status_code == 201, web.text
    body = web.json()
    assert (body["key"], body["color"], body["tags"], body["currency"]) == ("WEB", "#a1b2c3", ["design", "web"], "EUR")
    assert body["estimate_hours"] == "120.50" or float(body["estimate_hours"]) == 120.5
    # Keys are unique per organization and derived from the name when absent.
    clash = await client.post(base, json={"name": "Web two", "key": "WEB"}, headers=alice)
    assert clash.status_code == 409 and clash.json()["field"] == "key"
    derived = (await client.post(base, json={"name": "Internal tools"}, headers=alice)).json()
    assert derived["key"] == "INTE" and derived["billable"] is True and derived["status"] == "active"
    again = (await client.post(base, json={"name": "Inte rnal"}, headers=alice)).json()
    assert again["key"] == "INTE2"
    bad_key = await client.post(base, json={"name": "Bad", "key": "1X"}, headers=alice)
    assert bad_key.status_code == 422
    backwards = await client.post(
        base, json={"name": "Back", "start_date": "2026-12-02", "due_date": "2026-12-01"}, headers=alice
    )
    assert backwards.status_code == 422
    patched = await client.patch(f"{base}/{body['id']}", json={"status": "on_hold", "due_date": None}, headers=alice)
    assert (patched.json()["status"], patched.json()["due_date"]) == ("on_hold", None)
    backwards = await client.patch(f"{base}/{body['id']}", json={"due_date": "2026-01-01"}, headers=alice)
    assert backwards.status_code == 422 and backwards.json()["field"] == "due_date"

    def names(response: httpx.Response) -> set[str]:
        return {p["name"] for p in response.json()["items"]}

    assert names(await client.get(base, params={"client_id": customer["id"]}, headers=alice)) == {"Website"}
    assert names(await client.get(base, params={"status": "on_hold"}, headers=alice)) == {"Website"}
    assert names(await client.get(base, params={"tag": "Design"}, headers=alice)) == {"Website"}
    assert (await client.get(base, params={"status": "sleeping"}, headers=alice)).status_code == 422


async def test_the_project_read_is_one_statement_and_its_own_transaction(
    app: Any, client: httpx.AsyncClient, tokens: Tokens, org: dict[str, Any]
) -> None:
    """The read is ``app_enter`` alone: one statement and no BEGIN or COMMIT (asyncpg logs those plain
    queries; the list, in a transaction, is the control). A second statement on such a session would
    see no tenant: row-level security shows it no rows."""
    alice = await tokens.headers("alice")
    base = f"/api/v1/orgs/{org['id']}/projects"
    project = (await client.post(base, json={"name": "One trip"}, headers=alice)).json()
    (await client.get(f"{base}/{project['id']}", headers=alice)).raise_for_status()  # the user row is written

    plain: list[str] = []
    statements: list[str] = []
    engine = app.state.db.engine
    pool = engine.sync_engine.pool
    connections = [await engine.raw_connection() for _ in range(pool.size())]
    for raw in connections:
        raw.driver_connection.add_query_logger(lambda record: plain.append(record.query.strip().upper()))
        raw.close()

    def statement(_conn: object, _cursor: object, sql: str, *_: object) -> None:
        statements.append(" ".join(sql.split()))

    event.listen(engine.sync_engine, "before_cursor_execute", statement)
    try:
        read = await client.get(f"{base}/{project['id']}", headers=alice)
        assert read.status_code == 200 and read.json()["name"] == "One trip"
        assert len(statements) == 1 and statements[0].startswith("SELECT * FROM app_enter("), statements
        assert not [q for q in plain if q.startswith(("BEGIN", "COMMIT", "ROLLBACK"))], plain
        (await client.get(base, headers=alice)).raise_for_status()
        assert any(q.startswith("BEGIN") for q in plain), plain
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", statement)

    async with app.state.db.single_statement() as session:
        await session.execute(text("SELECT set_config('app.org_id', :org, true)"), {"org": org["id"]})
        assert (await session.execute(text("SELECT count(*) FROM projects"))).scalar_one() == 0
