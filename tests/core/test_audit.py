from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any

import httpx

from backend.core import audit
from backend.core.db import Database
from tests.conftest import Tokens, create_org, run_cli, unique_slug


async def _events(owner_db: Any, org_id: str) -> list[dict[str, Any]]:
    rows = await owner_db.fetch("SELECT * FROM audit_events WHERE org_id = $1 ORDER BY seq", uuid.UUID(org_id))
    return [dict(r) for r in rows]


async def test_changes_write_events_in_the_same_transaction(
    client: httpx.AsyncClient, tokens: Tokens, owner_db: Any
) -> None:
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, "Audited")
    response = await client.patch(f"/api/v1/orgs/{org['id']}", json={"name": "Audited Renamed"}, headers=alice)
    assert response.status_code == 200
    events = await _events(owner_db, org["id"])
    assert [e["action"] for e in events] == [
        "organization.created",
        "membership.created",
        "organization.updated",
    ]
    renamed = events[-1]
    assert renamed["changes"] == '{"name": ["Audited", "Audited Renamed"]}' or renamed["changes"] == {
        "name": ["Audited", "Audited Renamed"]
    }
    assert renamed["actor_user_id"] == uuid.UUID("7a1b0000-0000-4000-8000-000000000001")
    assert renamed["actor_client_id"] == "worktime-cli"
    assert renamed["request_id"] == response.headers["x-request-id"]
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert events[1]["prev_hash"] == events[0]["hash"] and events[2]["prev_hash"] == events[1]["hash"]


async def test_a_failed_request_leaves_no_event(client: httpx.AsyncClient, tokens: Tokens, owner_db: Any) -> None:
    alice = await tokens.headers("alice")
    first = await create_org(client, alice, "First")
    before = await owner_db.fetchval("SELECT count(*) FROM audit_events")
    # The slug is taken: the organization insert fails after the tenant was bound; nothing may remain.
    response = await client.post("/api/v1/orgs", json={"name": "Dup", "slug": first["slug"]}, headers=alice)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    # Renaming to a taken slug fails after the row changed in the session: rolled back with its event.
    second = await create_org(client, alice, "Second")
    mid = await owner_db.fetchval("SELECT count(*) FROM audit_events")
    clash = await client.patch(f"/api/v1/orgs/{second['id']}", json={"slug": first["slug"]}, headers=alice)
    assert clash.status_code == 409
    assert await owner_db.fetchval("SELECT count(*) FROM audit_events") == mid == before + 2
    assert (await _events(owner_db, second["id"]))[-1]["action"] == "membership.created"


async def test_the_runtime_role_cannot_rewrite_history(runtime_db: Any, demo_orgs: dict[str, uuid.UUID]) -> None:
    import asyncpg
    import pytest

    async with runtime_db.transaction():
        await runtime_db.execute("SELECT set_config('app.org_id', $1, true)", str(demo_orgs["acme"]))
        assert await runtime_db.fetchval("SELECT count(*) FROM audit_events") > 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await runtime_db.execute("UPDATE audit_events SET action = 'nothing.happened'")
    async with runtime_db.transaction():
        await runtime_db.execute("SELECT set_config('app.org_id', $1, true)", str(demo_orgs["acme"]))
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await runtime_db.execute("DELETE FROM audit_events")


async def test_verify_passes_then_names_the_altered_event(
    client: httpx.AsyncClient, tokens: Tokens, owner_db: Any
) -> None:
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, "Tamper Target")
    for name in ("Tamper One", "Tamper Two"):
        await client.patch(f"/api/v1/orgs/{org['id']}", json={"name": name}, headers=alice)

    clean = run_cli("audit", "verify", "--org", org["slug"])
    assert clean.returncode == 0 and "4 events" in clean.stdout, clean.stdout

    # The owner role can change rows (it acts inside the tenant, as RLS demands); the chain notices.
    await owner_db.execute("SELECT set_config('app.org_id', $1, false)", org["id"])
    await owner_db.execute(
        'UPDATE audit_events SET changes = \'{"name": ["x", "y"]}\' WHERE org_id = $1 AND seq = 3',
        uuid.UUID(org["id"]),
    )
    broken = run_cli("audit", "verify", "--org", org["id"], check=False)
    assert broken.returncode == 1
    event_id = await owner_db.fetchval(
        "SELECT id FROM audit_events WHERE org_id = $1 AND seq = 3", uuid.UUID(org["id"])
    )
    assert f"seq=3 id={event_id}" in broken.stdout, broken.stdout
    assert "altered" in broken.stdout


async def test_concurrent_writers_do_not_fork_the_chain(
    settings: Any, client: httpx.AsyncClient, tokens: Tokens, owner_db: Any
) -> None:
    org = await create_org(client, await tokens.headers("alice"), "Concurrent")
    org_id = uuid.UUID(org["id"])
    db = Database(settings, pool_size=8)

    async def write(n: int) -> None:
        async with db.unit_of_work(org_id=org_id) as session:
            await audit.record(
                session,
                org_id=org_id,
                actor=None,
                action="test.concurrent",
                resource_type="test",
                resource_id=n,
            )

    try:
        await asyncio.gather(*(write(n) for n in range(40)))
    finally:
        await db.dispose()
    events = await _events(owner_db, org["id"])
    assert [e["seq"] for e in events] == list(range(1, 43))
    for previous, event in itertools.pairwise(events):
        assert event["prev_hash"] == previous["hash"]
    result = run_cli("audit", "verify", "--org", str(org_id))
    assert "42 events" in result.stdout


def test_unknown_org_is_reported(migrated: dict[str, str]) -> None:
    result = run_cli("audit", "verify", "--org", unique_slug("nope"), check=False)
    assert result.returncode == 2
