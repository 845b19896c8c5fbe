"""The audit trail as an auditor uses it: filtered reads, the chain's verification state, and a signed
CSV export of the (filtered) trail made by a real worker, verified offline."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import DEMO_IDS, Tokens, create_org, run_cli
from tests.exports.conftest import Worker
from tests.tracking.conftest import Team


async def _log_some(team: Team) -> list[str]:
    ids = []
    for day in (2, 3, 4):
        made = await team.log("dave", f"2026-03-0{day}T08:00:00Z", f"2026-03-0{day}T09:00:00Z")
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
    return ids


async def test_the_trail_filters_by_actor_action_object_and_time(org_team: Team) -> None:
    entries = await _log_some(org_team)
    everything = (await org_team.call("erin", "GET", "/audit-events", params={"limit": 200})).json()
    by_action = (await org_team.call("erin", "GET", "/audit-events", params={"action": "time_entry."})).json()
    assert by_action["total"] == 3
    assert {e["action"] for e in by_action["items"]} == {"time_entry.created"}
    assert {e["resource_id"] for e in by_action["items"]} == set(entries)
    exact = await org_team.call("erin", "GET", "/audit-events", params={"action": "time_entry.created"})
    assert exact.json()["total"] == 3
    by_actor = (
        await org_team.call("erin", "GET", "/audit-events", params={"actor_user_id": str(DEMO_IDS["dave"])})
    ).json()
    assert by_actor["total"] == 3 and all(e["actor_user_id"] == str(DEMO_IDS["dave"]) for e in by_actor["items"])
    one = (
        await org_team.call(
            "erin", "GET", "/audit-events", params={"resource_type": "time_entry", "resource_id": entries[1]}
        )
    ).json()
    assert [e["resource_id"] for e in one["items"]] == [entries[1]]
    newest = everything["items"][0]["occurred_at"]
    later = (await org_team.call("erin", "GET", "/audit-events", params={"from": newest})).json()
    assert 1 <= later["total"] < everything["total"]
    earlier = (await org_team.call("erin", "GET", "/audit-events", params={"to": newest})).json()
    assert later["total"] + earlier["total"] == everything["total"]  # the bounds split the trail exactly

    backwards = await org_team.call("erin", "GET", "/audit-events", params={"from": newest, "to": newest})
    assert backwards.status_code == 422 and backwards.json()["field"] == "to"
    assert (await org_team.call("dave", "GET", "/audit-events")).status_code == 403  # members do not read it


async def test_the_chain_state_shows_its_head_and_the_first_altered_event(
    client: httpx.AsyncClient, tokens: Tokens, owner_db: Any
) -> None:
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, "Chain State")
    for name in ("Chain One", "Chain Two"):
        renamed = await client.patch(f"/api/v1/orgs/{org['id']}", json={"name": name}, headers=alice)
        assert renamed.status_code == 200, renamed.text
    chain = await client.get(f"/api/v1/orgs/{org['id']}/audit-chain", headers=alice)
    assert chain.status_code == 200, chain.text
    state = chain.json()
    newest = (await client.get(f"/api/v1/orgs/{org['id']}/audit-events", headers=alice)).json()["items"][0]
    assert state["verified"] is True and state["broken_seq"] is None
    assert (state["head_seq"], state["head_hash"]) == (newest["seq"], newest["hash"])
    assert state["events"] == newest["seq"]

    await owner_db.execute("SELECT set_config('app.org_id', $1, false)", org["id"])
    await owner_db.execute(
        'UPDATE audit_events SET changes = \'{"name": ["x", "y"]}\' WHERE org_id = $1 AND seq = 2',
        uuid.UUID(org["id"]),
    )
    state = (await client.get(f"/api/v1/orgs/{org['id']}/audit-chain", headers=alice)).json()
    assert state["verified"] is False and state["broken_seq"] == 2
    assert "altered" in state["reason"]


async def _wait_done(team: Team, who: str, export_id: str) -> dict[str, Any]:
    for _ in range(600):
        state = (await team.call(who, "GET", f"/exports/{export_id}")).json()
        if state["status"] in {"done", "failed"}:
            return dict(state)
        await asyncio.sleep(0.1)
    raise AssertionError(f"export {export_id} did not finish: {state}")


async def test_an_audit_export_is_a_signed_csv_with_the_chain_state(
    org_team: Team, start_worker: Worker, tmp_path: Path
) -> None:
    entries = await _log_some(org_team)
    body = {"kind": "audit", "format": "csv", "from": "2026-01-01", "to": "2026-12-31", "action": "time_entry."}
    assert (await org_team.call("dave", "POST", "/exports", json=body)).status_code == 403  # needs audit:read
    for wrong, field in (({"format": "pdf"}, "format"), ({"project_ids": [org_team.project]}, "kind")):
        refused = await org_team.call("erin", "POST", "/exports", json={**body, **wrong})
        assert refused.status_code == 422 and refused.json()["field"] == field, refused.text

    start_worker()
    made = await org_team.call("erin", "POST", "/exports", json=body)
    assert made.status_code == 202, made.text
    state = await _wait_done(org_team, "erin", made.json()["id"])
    assert state["status"] == "done", state
    data = (await org_team.call("erin", "GET", f"/exports/{state['id']}/download")).content
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert [r["resource_id"] for r in rows] == entries  # oldest first, only what the filter names
    assert {r["action"] for r in rows} == {"time_entry.created"}
    assert rows[0]["actor_email"] == "dave@acme.test"
    seqs = [int(r["seq"]) for r in rows]
    assert seqs == sorted(seqs)

    manifest = (await org_team.call("erin", "GET", f"/exports/{state['id']}/manifest")).json()
    assert manifest["kind"] == "audit" and manifest["row_count"] == 3
    assert manifest["filters"] == {"action": "time_entry."}
    assert manifest["audit_chain"]["verified"] is True
    assert manifest["columns"][0] == "seq" and "hash" in manifest["columns"]
    (tmp_path / "audit.csv").write_bytes(data)
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    verified = run_cli("export", "verify", str(tmp_path / "audit.csv"), str(tmp_path / "manifest.json"), check=False)
    assert verified.returncode == 0 and "VERIFIED" in verified.stdout, verified.stdout + verified.stderr
