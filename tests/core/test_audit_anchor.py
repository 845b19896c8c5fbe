"""The audit chain's head is anchored: a signed statement of the newest event, written at every period
lock and on a schedule, kept append-only; `audit verify` notices a truncated tail and a forged anchor."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from backend.core.db import Database
from backend.exports import signing
from backend.orgs import service as orgs
from tests.conftest import Tokens, create_org, plain_dsn, run_cli


async def _locked_org(client: httpx.AsyncClient, alice: dict[str, str], name: str) -> dict[str, Any]:
    org = await create_org(client, alice, name)
    response = await client.put(
        f"/api/v1/orgs/{org['id']}/time-lock", json={"locked_until": "2026-11-01T00:00:00Z"}, headers=alice
    )
    assert response.status_code == 200, response.text
    return org


async def _anchors(owner_db: Any, org_id: str) -> list[dict[str, Any]]:
    rows = await owner_db.fetch("SELECT * FROM audit_anchors WHERE org_id = $1 ORDER BY id", uuid.UUID(org_id))
    return [dict(row) for row in rows]


async def _head(owner_db: Any, org_id: str) -> dict[str, Any]:
    row = await owner_db.fetchrow(
        "SELECT seq, id, hash FROM audit_events WHERE org_id = $1 ORDER BY seq DESC LIMIT 1", uuid.UUID(org_id)
    )
    return dict(row)


async def test_a_period_lock_anchors_the_head_and_the_anchor_verifies(
    client: httpx.AsyncClient, tokens: Tokens, owner_db: Any
) -> None:
    alice = await tokens.headers("alice")
    org = await _locked_org(client, alice, "Anchored")

    head = await _head(owner_db, org["id"])
    [anchor] = await _anchors(owner_db, org["id"])
    assert anchor["reason"] == "period_lock"
    assert (anchor["head_seq"], anchor["head_event_id"], anchor["head_hash"]) == (head["seq"], head["id"], head["hash"])
    assert head["seq"] == 3 and anchor["events"] == 3  # created, owner's membership, the lock itself

    # Anyone holding the organization's published key can check the statement themselves.
    key = (await client.get(f"/api/v1/orgs/{org['id']}/exports/signing-key", headers=alice)).json()
    statement = json.loads(anchor["statement"]) if isinstance(anchor["statement"], str) else anchor["statement"]
    assert statement["head_hash"] == head["hash"] and statement["org_id"] == org["id"]
    assert statement["signature"]["key_id"] == key["key_id"]
    Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key"])).verify(
        base64.b64decode(statement["signature"]["value"]), signing.canonical(statement)
    )

    chain = (await client.get(f"/api/v1/orgs/{org['id']}/audit-chain", headers=alice)).json()
    assert chain["verified"] is True
    assert chain["anchors"]["verified"] is True and chain["anchors"]["anchors"] == 1
    assert chain["anchors"]["latest"]["head_seq"] == head["seq"]

    result = run_cli("audit", "verify", "--org", org["slug"])
    assert "ok" in result.stdout and "3 events, 1 anchors, head seq=3 anchored" in result.stdout, result.stdout


async def test_deleting_the_newest_events_is_reported_as_truncated_after_anchor(
    client: httpx.AsyncClient, tokens: Tokens, owner_db: Any
) -> None:
    alice = await tokens.headers("alice")
    org = await _locked_org(client, alice, "Truncated")
    await client.patch(f"/api/v1/orgs/{org['id']}", json={"name": "Truncated Later"}, headers=alice)
    assert run_cli("audit", "verify", "--org", org["slug"]).returncode == 0

    # The owner deletes the lock's event and everything after it: the shorter chain still links up...
    await owner_db.execute("SELECT set_config('app.org_id', $1, false)", org["id"])
    try:
        deleted = await owner_db.execute(
            "DELETE FROM audit_events WHERE org_id = $1 AND seq >= 3", uuid.UUID(org["id"])
        )
    finally:
        await owner_db.execute("SELECT set_config('app.org_id', '', false)")
    assert deleted == "DELETE 2"

    # ...but not up to the anchored head.
    broken = run_cli("audit", "verify", "--org", org["id"], check=False)
    assert broken.returncode == 1, broken.stdout
    assert f"BROKEN  {org['slug']} ({org['id']})" in broken.stdout
    assert "truncated after anchor" in broken.stdout and "chain now ends at seq=2" in broken.stdout

    chain = (await client.get(f"/api/v1/orgs/{org['id']}/audit-chain", headers=alice)).json()
    assert chain["verified"] is False
    assert chain["anchors"]["problem"] == "truncated" and "truncated after anchor" in chain["reason"]

    # New events reuse the deleted sequence numbers: the anchored seq is back, with another hash.
    await client.patch(f"/api/v1/orgs/{org['id']}", json={"name": "Covered Up"}, headers=alice)
    again = run_cli("audit", "verify", "--org", org["slug"], check=False)
    assert again.returncode == 1 and "is no longer the anchored event" in again.stdout, again.stdout


async def test_anchors_cannot_be_changed_or_removed(
    client: httpx.AsyncClient, tokens: Tokens, owner_db: Any, runtime_db: Any
) -> None:
    org = await _locked_org(client, await tokens.headers("alice"), "Append Only")
    org_id = uuid.UUID(org["id"])
    for connection in (runtime_db, owner_db):
        for statement in (
            "UPDATE audit_anchors SET head_hash = repeat('0', 64) WHERE org_id = $1",
            "DELETE FROM audit_anchors WHERE org_id = $1",
        ):
            async with connection.transaction():
                await connection.execute("SELECT set_config('app.org_id', $1, true)", org["id"])
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await connection.execute(statement, org_id)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await owner_db.execute("TRUNCATE audit_anchors")
    assert len(await _anchors(owner_db, org["id"])) == 1


async def test_a_tampered_anchor_fails_its_signature(
    client: httpx.AsyncClient, tokens: Tokens, owner_db: Any, migrated: dict[str, str]
) -> None:
    org = await _locked_org(client, await tokens.headers("alice"), "Forged Anchor")
    forged = "f" * 64
    # Only a superuser switching triggers off for its session gets past the append-only trigger.
    database = plain_dsn(migrated["WORKTIME_DATABASE_OWNER_URL"]).rsplit("/", 1)[1]
    server = plain_dsn(migrated["WORKTIME_DATABASE_SUPERUSER_URL"]).rsplit("/", 1)[0]
    superuser = await asyncpg.connect(f"{server}/{database}")
    try:
        await superuser.execute("SET session_replication_role = replica")
        await superuser.execute(
            "UPDATE audit_anchors SET head_hash = $2::text,"
            " statement = jsonb_set(statement, '{head_hash}', to_jsonb($2::text)) WHERE org_id = $1",
            uuid.UUID(org["id"]),
            forged,
        )
    finally:
        await superuser.close()
    assert (await _anchors(owner_db, org["id"]))[0]["head_hash"] == forged

    broken = run_cli("audit", "verify", "--org", org["slug"], check=False)
    assert broken.returncode == 1, broken.stdout
    assert f"BROKEN  {org['slug']}" in broken.stdout
    assert "signature is NOT valid" in broken.stdout


async def test_the_scheduled_tick_anchors_only_heads_that_moved(
    settings: Any, client: httpx.AsyncClient, tokens: Tokens, owner_db: Any
) -> None:
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, "Ticking")
    db = Database(settings, pool_size=2)
    try:
        first = await orgs.anchor_all(db)
        assert first["moved"] >= 1 and first["anchored"] >= 1
        [anchor] = await _anchors(owner_db, org["id"])
        assert anchor["reason"] == "schedule" and anchor["head_seq"] == 2

        await orgs.anchor_all(db)  # nothing happened in between: no second anchor
        assert len(await _anchors(owner_db, org["id"])) == 1

        await client.patch(f"/api/v1/orgs/{org['id']}", json={"name": "Ticking On"}, headers=alice)
        await orgs.anchor_all(db)
        anchors = await _anchors(owner_db, org["id"])
        assert [a["head_seq"] for a in anchors] == [2, 3]
    finally:
        await db.dispose()
    assert "2 anchors" in run_cli("audit", "verify", "--org", org["slug"]).stdout
    # The command line does the same: the head has not moved since, so this organization gets no third.
    assert "anchored" in run_cli("audit", "anchor").stdout
    assert len(await _anchors(owner_db, org["id"])) == 2


def test_the_workers_schedule_the_anchor_job(settings: Any) -> None:
    import inspect

    from backend import worker

    assert settings.audit_anchor_interval_seconds > 0
    assert '"audit-anchors"' in inspect.getsource(worker.run)
