"""Exports end to end through real worker processes: progress, the signed link, manifest verification
and tampering, formula injection, tenant isolation, a worker killed mid-export, failure and expiry."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import signal
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from backend.core import schedule
from backend.settings import get_settings
from tests.conftest import DEMO_IDS, create_org, run_cli
from tests.exports.conftest import Worker
from tests.infra import ROOT
from tests.tracking.conftest import Team

EXPORT_DIR = ROOT / ".data" / "exports"
BODY = {"kind": "detailed", "format": "csv", "from": "2026-03-01", "to": "2026-03-31", "time_zone": "Europe/Berlin"}


async def _wait(team: Team, who: str, export_id: str, until: set[str], seconds: float = 60) -> dict[str, Any]:
    for _ in range(int(seconds * 10)):
        state = await team.call(who, "GET", f"/exports/{export_id}")
        assert state.status_code == 200, state.text
        if state.json()["status"] in until:
            return dict(state.json())
        await asyncio.sleep(0.1)
    pytest.fail(f"export {export_id} did not reach {until} in {seconds} s: {state.json()}")


async def _request(team: Team, who: str, **body: Any) -> str:
    made = await team.call(who, "POST", "/exports", json={**BODY, **body})
    assert made.status_code == 202, made.text
    assert made.json()["status"] == "queued"
    return str(made.json()["id"])


def _verify(tmp_path: Path, data: bytes, manifest: dict[str, Any], public_key: str | None = None) -> Any:
    (tmp_path / "export.bin").write_bytes(data)
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    args = ["export", "verify", str(tmp_path / "export.bin"), str(tmp_path / "manifest.json")]
    if public_key:
        (tmp_path / "key.pem").write_text(public_key)
        args += ["--public-key", str(tmp_path / "key.pem")]
    return run_cli(*args, check=False)


async def test_csv_export_end_to_end(
    org_team: Team, start_worker: Worker, client: httpx.AsyncClient, tokens: Any, tmp_path: Path
) -> None:
    nasty = ['=HYPERLINK("http://evil")', "+1+1", "-2", "@SUM(A1)", 'plain, with "quotes"']
    for i, text in enumerate(nasty):
        made = await org_team.log(
            "dave", f"2026-03-0{i + 2}T08:00:00Z", f"2026-03-0{i + 2}T09:30:00Z", description=text, tags=["x"]
        )
        assert made.status_code == 201, made.text
    # Another tenant's time in the same days never shows up.
    alice = await tokens.headers("alice")
    other = await create_org(client, alice, "Other tenant")
    project = (
        await client.post(f"/api/v1/orgs/{other['id']}/projects", json={"name": "Elsewhere"}, headers=alice)
    ).json()
    made = await client.post(
        f"/api/v1/orgs/{other['id']}/time-entries",
        json={"project_id": project["id"], "start_at": "2026-03-03T10:00:00Z", "end_at": "2026-03-03T11:00:00Z",
              "description": "OTHER-TENANT"},
        headers=alice,
    )  # fmt: skip
    assert made.status_code == 201, made.text

    start_worker()
    export_id = await _request(org_team, "erin")  # the auditor's main tool
    state = await _wait(org_team, "erin", export_id, {"done", "failed"})
    assert state["status"] == "done", state
    assert state["progress"] == {"rows_done": 5, "rows_total": 5, "percent": 100.0}
    download = await org_team.call("erin", "GET", f"/exports/{export_id}/download")
    assert download.status_code == 200, download.text
    assert download.headers["content-type"].startswith("text/csv")
    body = download.content
    assert b"OTHER-TENANT" not in body
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert len(rows) == 5
    assert [r["description"] for r in rows] == ['\'=HYPERLINK("http://evil")', "'+1+1", "'-2", "'@SUM(A1)", nasty[4]]
    first = rows[0]
    assert first["start"] == "2026-03-02T09:00:00+01:00"  # ISO, in the requested zone
    assert first["date"] == "2026-03-02"
    assert (first["hours"], first["amount"], first["currency"], first["rate"]) == ("1.50", "150.00", "EUR", "100.00")
    assert first["person"]

    # The manifest, verified offline with the organization's published key.
    manifest = (await org_team.call("erin", "GET", f"/exports/{export_id}/manifest")).json()
    assert manifest["row_count"] == 5 and manifest["export_id"] == export_id
    assert manifest["requested_by"] == str(DEMO_IDS["erin"]) and manifest["organization"]["id"] == org_team.org
    assert manifest["period"]["from"] == "2026-03-01" and "locked_until" in manifest["period"]
    key = (await org_team.call("dave", "GET", "/exports/signing-key")).json()
    assert key["key_id"] == manifest["signature"]["key_id"]
    good = _verify(tmp_path, body, manifest, key["public_key_pem"])
    assert good.returncode == 0, good.stdout + good.stderr
    assert "VERIFIED" in good.stdout
    # One changed byte: the file no longer matches.
    tampered = bytearray(body)
    tampered[-3] ^= 0x01
    bad = _verify(tmp_path, bytes(tampered), manifest, key["public_key_pem"])
    assert bad.returncode == 1
    assert "MISMATCH file sha256 differs" in bad.stdout
    # A changed manifest: the signature fails.
    forged = {**manifest, "row_count": 4}
    bad = _verify(tmp_path, body, forged, key["public_key_pem"])
    assert bad.returncode == 1
    assert "signature is NOT valid" in bad.stdout and "row count differs" in bad.stdout
    # A manifest re-signed with another key does not pass against the organization's key.
    other_key = (await client.get(f"/api/v1/orgs/{other['id']}/exports/signing-key", headers=alice)).json()
    bad = _verify(tmp_path, body, manifest, other_key["public_key_pem"])
    assert bad.returncode == 1 and "different public key" in bad.stdout

    # A signed link: no token needed, bound to the export and the person, short-lived.
    link = await org_team.call("erin", "GET", f"/exports/{export_id}/link")
    assert link.status_code == 200, link.text
    url = httpx.URL(link.json()["url"])
    fetched = await client.get(str(url))
    assert fetched.status_code == 200, fetched.text
    assert fetched.content == body
    for change in (
        {"sig": "0" * 64},
        {"user": str(DEMO_IDS["dave"])},
        {"expires": str(int(url.params["expires"]) + 3600)},
    ):
        assert (await client.get(str(url.copy_merge_params(change)))).status_code == 401, change
    # Exports are their requester's (and org-wide readers'): dave sees neither erin's export nor its file.
    assert (await org_team.call("dave", "GET", f"/exports/{export_id}")).status_code == 404
    assert (await org_team.call("dave", "GET", f"/exports/{export_id}/download")).status_code == 404
    listed = (await org_team.call("carol", "GET", "/exports")).json()
    assert export_id in {item["id"] for item in listed["items"]}
    # A member's own export holds only their own rows, like their reports.
    mine = await _request(org_team, "dave", kind="summary")
    assert (await _wait(org_team, "dave", mine, {"done", "failed"}))["status"] == "done"
    summary = (await org_team.call("dave", "GET", f"/exports/{mine}/download")).content.decode()
    assert {r["person"] for r in csv.DictReader(io.StringIO(summary))} == {first["person"]}


async def test_pdf_export(org_team: Team, start_worker: Worker, tmp_path: Path) -> None:
    for day in range(2, 9):
        made = await org_team.log("dave", f"2026-03-0{day}T08:00:00Z", f"2026-03-0{day}T10:15:00Z", description="Work")
        assert made.status_code == 201, made.text
    start_worker()
    export_id = await _request(org_team, "erin", format="pdf")
    state = await _wait(org_team, "erin", export_id, {"done", "failed"})
    assert state["status"] == "done", state
    pdf = (await org_team.call("erin", "GET", f"/exports/{export_id}/download")).content
    assert pdf.startswith(b"%PDF")
    manifest = state["manifest"]
    assert manifest["format"] == "pdf" and manifest["row_count"] == 7
    assert len(manifest["data_sha256"]) == 64 and manifest["data_sha256"] != manifest["file"]["sha256"]
    assert _verify(tmp_path, pdf, manifest).returncode == 0
    if keep := os.environ.get("WORKTIME_KEEP_SAMPLE_PDF"):
        await asyncio.to_thread(Path(keep).write_bytes, pdf)


async def _bulk_entries(owner_db: Any, org: str, project: str, user: uuid.UUID, count: int) -> None:
    await owner_db.execute("SELECT set_config('app.org_id', $1, false)", org)
    await owner_db.execute(
        "INSERT INTO time_entries (org_id, id, user_id, project_id, start_at, end_at, duration_seconds, billable,"
        " tags, rate, currency, no_overlap, source, created_by, description)"
        " SELECT $1, gen_random_uuid(), $2, $3, s, s + interval '5 minutes', 300, true, '{bulk}', 100, 'EUR',"
        " true, 'manual', $2, 'bulk row ' || n"
        " FROM generate_series(1, $4) n, LATERAL (SELECT timestamptz '2026-03-01T00:00:00Z'"
        " + (n * interval '6 minutes') AS s) t",
        uuid.UUID(org),
        user,
        uuid.UUID(project),
        count,
    )


async def test_a_worker_killed_mid_export_is_retried_into_exactly_one_file(
    org_team: Team, start_worker: Worker, owner_db: Any, tmp_path: Path
) -> None:
    rows = 6000  # 6-minute steps: 25 days of March
    await _bulk_entries(owner_db, org_team.org, org_team.project, DEMO_IDS["dave"], rows)
    slow = start_worker(WORKTIME_EXPORT_TEST_DELAY_MS="300")
    export_id = await _request(org_team, "alice", time_zone="UTC")
    for _ in range(600):
        state = (await org_team.call("alice", "GET", f"/exports/{export_id}")).json()
        if state["status"] == "running" and 0 < state["progress"]["rows_done"] < rows:
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail(f"no progress while running: {state}")
    assert state["progress"]["rows_total"] == rows
    assert 0 < state["progress"]["percent"] < 100
    os.killpg(slow.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    slow.wait(10)
    folder = EXPORT_DIR / org_team.org
    assert not (folder / f"{export_id}.csv").exists()
    assert list(folder.glob(f"{export_id}.csv.tmp-*")), "the killed worker leaves only a temporary file"
    assert (await org_team.call("alice", "GET", f"/exports/{export_id}")).json()["status"] == "running"

    # No CLI: the broker itself delivers the job again once the dead worker's heartbeat is older than
    # WORKTIME_JOBS_HEARTBEAT_TIMEOUT_SECONDS (the default, 15 s), to the worker started now.
    start_worker()
    heartbeat = get_settings().jobs_heartbeat_timeout_seconds
    await owner_db.execute("SELECT set_config('app.org_id', $1, false)", org_team.org)
    for _ in range(int((heartbeat + 20) * 10)):
        attempts = await owner_db.fetchval(
            "SELECT attempts FROM exports WHERE org_id = $1 AND id = $2", uuid.UUID(org_team.org), uuid.UUID(export_id)
        )
        if attempts >= 2:
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail(f"not delivered again within {heartbeat + 20} s of the kill (attempts {attempts})")
    redelivered_after = time.monotonic() - killed_at
    assert heartbeat - 3 <= redelivered_after <= heartbeat + 10, redelivered_after
    state = await _wait(org_team, "alice", export_id, {"done", "failed"}, seconds=120)
    assert state["status"] == "done", state
    assert sorted(p.name for p in folder.glob(f"{export_id}*")) == [f"{export_id}.csv", f"{export_id}.manifest.json"]
    data = (folder / f"{export_id}.csv").read_bytes()
    assert data.count(b"\n") == rows + 1
    assert state["manifest"]["row_count"] == rows
    assert _verify(tmp_path, data, state["manifest"]).returncode == 0
    # A second delivery of the same job later changes nothing.
    before = (folder / f"{export_id}.csv").stat().st_mtime_ns
    run_cli("export", "sweep", "--stale-seconds", "0")
    await asyncio.sleep(1.5)
    assert (folder / f"{export_id}.csv").stat().st_mtime_ns == before


async def test_a_failed_export_says_why_and_files_expire(org_team: Team, start_worker: Worker, owner_db: Any) -> None:
    made = await org_team.log("dave", "2026-03-02T08:00:00Z", "2026-03-02T09:00:00Z")
    assert made.status_code == 201
    export_id = await _request(org_team, "heidi")
    # heidi leaves before a worker picks it up.
    await owner_db.execute("SELECT set_config('app.org_id', $1, false)", org_team.org)
    await owner_db.execute(
        "DELETE FROM memberships WHERE org_id = $1 AND user_id = $2", uuid.UUID(org_team.org), DEMO_IDS["heidi"]
    )
    start_worker()
    state = await _wait(org_team, "alice", export_id, {"done", "failed"})
    assert state["status"] == "failed"
    assert "no longer a member" in state["error"]
    assert (await org_team.call("alice", "GET", f"/exports/{export_id}/download")).status_code == 409

    done = await _request(org_team, "alice")
    assert (await _wait(org_team, "alice", done, {"done", "failed"}))["status"] == "done"
    await owner_db.execute(
        "UPDATE exports SET expires_at = now() - interval '1 minute' WHERE org_id = $1 AND id = $2",
        uuid.UUID(org_team.org),
        uuid.UUID(done),
    )
    swept = run_cli("export", "sweep")
    assert "expired 1" in swept.stdout or "expired" in swept.stdout
    assert (await org_team.call("alice", "GET", f"/exports/{done}")).json()["status"] == "expired"
    assert not (EXPORT_DIR / org_team.org / f"{done}.csv").exists()
    assert (await org_team.call("alice", "GET", f"/exports/{done}/download")).status_code == 409


async def test_the_running_workers_sweep_expired_exports_on_schedule(
    org_team: Team, start_worker: Worker, owner_db: Any
) -> None:
    made = await org_team.log("dave", "2026-03-03T08:00:00Z", "2026-03-03T09:00:00Z")
    assert made.status_code == 201
    start_worker()
    done = await _request(org_team, "alice")
    assert (await _wait(org_team, "alice", done, {"done", "failed"}))["status"] == "done"
    file = EXPORT_DIR / org_team.org / f"{done}.csv"
    assert file.exists()
    await owner_db.execute("SELECT set_config('app.org_id', $1, false)", org_team.org)
    await owner_db.execute(
        "UPDATE exports SET expires_at = now() - interval '1 minute' WHERE org_id = $1 AND id = $2",
        uuid.UUID(org_team.org),
        uuid.UUID(done),
    )
    # Two workers with a 1-second sweep interval, no CLI: one of them sends the sweep each second.
    for _ in range(2):
        start_worker(WORKTIME_EXPORT_SWEEP_INTERVAL_SECONDS="1")
    state = await _wait(org_team, "alice", done, {"expired"}, seconds=30)
    assert state["status"] == "expired"
    assert not file.exists()
    assert not file.with_name(f"{done}.manifest.json").exists()
    assert (await org_team.call("alice", "GET", f"/exports/{done}/download")).status_code == 409


async def test_retention_is_an_organization_setting(org_team: Team, start_worker: Worker) -> None:
    default = await org_team.call("erin", "GET", "/exports/settings")
    assert default.status_code == 200, default.text
    assert default.json() == {"retention_hours": get_settings().export_retention_hours, "default": True}
    made = await org_team.log("dave", "2026-03-04T08:00:00Z", "2026-03-04T09:00:00Z")
    assert made.status_code == 201
    start_worker()
    kept = await _request(org_team, "alice")
    finished = await _wait(org_team, "alice", kept, {"done", "failed"})
    assert finished["status"] == "done"

    # Only admins set it; an auditor reads it.
    refused = await org_team.call("erin", "PUT", "/exports/settings", json={"retention_hours": 1})
    assert refused.status_code == 403
    for bad in (0, 87_601, "a week"):
        wrong = await org_team.call("alice", "PUT", "/exports/settings", json={"retention_hours": bad})
        assert wrong.status_code == 422, wrong.text
    changed = await org_team.call("alice", "PUT", "/exports/settings", json={"retention_hours": 1})
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"retention_hours": 1, "default": False}
    assert (await org_team.call("erin", "GET", "/exports/settings")).json()["retention_hours"] == 1

    # The files already kept follow the new retention, and so do new ones.
    def hours_kept(state: dict[str, Any]) -> float:
        expires = datetime.fromisoformat(state["expires_at"])
        return (expires - datetime.fromisoformat(state["finished_at"])).total_seconds() / 3600

    assert hours_kept((await org_team.call("alice", "GET", f"/exports/{kept}")).json()) == 1
    fresh = await _request(org_team, "alice")
    assert hours_kept(await _wait(org_team, "alice", fresh, {"done", "failed"})) == 1
    history = await org_team.call("alice", "GET", "/audit-events")
    assert history.status_code == 200, history.text
    assert any(
        event["action"] == "export_settings.updated"
        and event["changes"] == {"retention_hours": [default.json()["retention_hours"], 1]}
        for event in history.json()["items"]
    )


def test_one_lease_per_interval_lets_one_offer_through() -> None:
    client = redis.Redis.from_url(get_settings().redis_url)
    sent: list[str] = []
    job = schedule.Periodic(f"test-{uuid.uuid4().hex[:8]}", 2.0, lambda: sent.append("x"))
    try:
        assert schedule.offer(client, job, "worker-a")
        assert not schedule.offer(client, job, "worker-b")  # another worker in the same interval
        assert not schedule.offer(client, job, "worker-a")
        assert 0 < int(client.pttl(job.lease)) <= 2000
        client.pexpire(job.lease, 1)  # the interval is over
        time.sleep(0.05)
        assert schedule.offer(client, job, "worker-b")
        assert sent == ["x", "x"]

        def broken() -> None:
            raise RuntimeError("broker down")

        failing = schedule.Periodic(f"test-{uuid.uuid4().hex[:8]}", 60.0, broken)
        assert not schedule.offer(client, failing, "worker-a")
        assert client.get(failing.lease) is None, "a failed send gives the lease back"
    finally:
        client.delete(job.lease)
        client.close()


async def test_bad_requests(org_team: Team) -> None:
    bad = await org_team.call("alice", "POST", "/exports", json={**BODY, "time_zone": "Nowhere/Land"})
    assert bad.status_code == 422
    bad = await org_team.call("alice", "POST", "/exports", json={**BODY, "format": "ods"})
    assert bad.status_code == 422
    assert (await org_team.call("alice", "GET", f"/exports/{uuid.uuid4()}")).status_code == 404
