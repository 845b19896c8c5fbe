"""Toggl and Clockify detailed CSV exports, imported by a real worker process."""

# ruff: noqa: E501  (CSV exports as the tools write them)
from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.infra import start_worker, stop_worker
from tests.tracking.conftest import Team

TOGGL = """User,Email,Client,Project,Task,Description,Billable,Start date,Start time,End date,End time,Duration,Tags,Amount (USD)
Dave Member,dave@acme.test,Acme,Website,,Homepage hero,Yes,2026-11-16,09:00:00,2026-11-16,10:30:00,01:30:00,"dev, web",
Dave Member,dave@acme.test,Acme,Website,,Code review,No,2026-11-16,11:00:00,2026-11-16,11:45:00,00:45:00,,
Nobody,nobody@example.test,Acme,Website,,Who is this,Yes,2026-11-16,09:00:00,2026-11-16,10:00:00,01:00:00,,
Dave Member,dave@acme.test,Acme,Website,,Broken,Yes,2026-13-45,09:00:00,2026-11-16,10:00:00,01:00:00,,
Carol Manager,carol@acme.test,Acme,Brand New,,Kickoff,Yes,2026-11-17,14:00:00,2026-11-17,15:00:00,01:00:00,meeting,
"""
CLOCKIFY = """Project,Client,Description,Task,User,Group,Email,Tags,Billable,Start Date,Start Time,End Date,End Time,Duration (h),Duration (decimal),Billable Rate (USD),Billable Amount (USD)
Website,Acme,Planning,,Dave Member,,dave@acme.test,plan,Yes,11/18/2026,09:00:00 AM,11/18/2026,10:00:00 AM,01:00:00,1.00,0,0
Website,Acme,Overlapping,,Dave Member,,dave@acme.test,,Yes,11/18/2026,09:30:00 AM,11/18/2026,10:30:00 AM,01:00:00,1.00,0,0
"""


@pytest.fixture
def worker(migrated: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = start_worker(migrated)
    yield process
    stop_worker(process)


async def _finished(team: Team, who: str, import_id: str) -> dict[str, Any]:
    # A liveness bound, generous because the worker starts cold per test and shares its queue with the
    # Keycloak mirror jobs of earlier tests on a busy 2-core machine.
    for _ in range(900):
        state = (await team.call(who, "GET", f"/time-imports/{import_id}")).json()
        if state["status"] in {"done", "failed"}:
            return dict(state)
        await asyncio.sleep(0.1)
    pytest.fail("the import did not finish within 90 s")


async def _import(team: Team, who: str, source: str, csv: str, *, dry_run: bool = False) -> dict[str, Any]:
    started = await team.call(who, "POST", "/time-imports", json={"source": source, "csv": csv, "dry_run": dry_run})
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "queued"
    return await _finished(team, who, started.json()["id"])


async def test_toggl_import_dry_run_bad_rows_and_idempotency(team: Team, worker: Any) -> None:
    dry = await _import(team, "bob", "toggl", TOGGL, dry_run=True)
    assert dry["status"] == "done", dry
    assert (dry["total_rows"], dry["done_rows"], dry["imported_rows"]) == (5, 5, 3)
    assert {e["line"] for e in dry["errors"]} == {4, 5}
    assert (await team.call("bob", "GET", "/time-entries")).json()["total"] == 0  # a dry run lands nothing
    projects = {p["name"] for p in (await team.call("bob", "GET", "/projects")).json()["items"]}
    assert "Brand New" not in projects

    real = await _import(team, "bob", "toggl", TOGGL)
    assert (real["imported_rows"], real["duplicate_rows"]) == (3, 0), real
    reasons = {e["line"]: e["reason"] for e in real["errors"]}
    assert "nobody@example.test" in reasons[4] and "date" in reasons[5]
    assert real["created_projects"] == ["Brand New"]
    entries = (await team.call("bob", "GET", "/time-entries")).json()["items"]
    by_description = {e["description"]: e for e in entries}
    assert by_description["Homepage hero"]["tags"] == ["dev", "web"]
    assert by_description["Homepage hero"]["duration_seconds"] == 5400
    assert by_description["Code review"]["billable"] is False
    assert by_description["Kickoff"]["source"] == "import"

    again = await _import(team, "bob", "toggl", TOGGL)
    assert (again["imported_rows"], again["duplicate_rows"]) == (0, 3)
    assert (await team.call("bob", "GET", "/time-entries")).json()["total"] == 3


async def test_clockify_import_by_a_member_only_lands_what_they_may(team: Team, worker: Any) -> None:
    # Dave (contributor on Website) imports his own rows; the overlapping one is listed, the rest lands.
    done = await _import(team, "dave", "clockify", CLOCKIFY)
    assert done["imported_rows"] == 1 and [e["line"] for e in done["errors"]] == [3], done
    assert "overlaps" in done["errors"][0]["reason"]
    # Rows for someone else, or in a project he may not create, are refused per row.
    toggl = await _import(team, "dave", "toggl", TOGGL)
    reasons = {e["line"]: e["reason"] for e in toggl["errors"]}
    assert "create projects" in reasons[6]
    assert toggl["imported_rows"] == 2
    # Bob (admin) sees every import, dave only his own; a bad header fails the whole file.
    bad = await _import(team, "dave", "toggl", "a,b\n1,2\n")
    assert bad["status"] == "failed" and "missing column" in bad["errors"][0]["reason"]
    assert (await team.call("bob", "GET", "/time-imports")).json()["total"] == 3


async def test_an_imported_row_without_billable_takes_its_projects_flag(team: Team, worker: Any) -> None:
    """An empty Billable column leaves it to the project: not billable on an internal project, billable
    on a billable one; a Yes or No in the file wins."""
    await team.new_project("Internal", {"dave": "contributor"}, billable=False)
    csv = (
        "User,Email,Client,Project,Task,Description,Billable,Start date,Start time,End date,End time,Duration,Tags,Amount (USD)\n"
        "Dave Member,dave@acme.test,,Internal,,Standup,,2026-11-19,09:00:00,2026-11-19,09:15:00,00:15:00,,\n"
        "Dave Member,dave@acme.test,,Internal,,Billed anyway,Yes,2026-11-19,10:00:00,2026-11-19,10:30:00,00:30:00,,\n"
        "Dave Member,dave@acme.test,Acme,Website,,Hero,,2026-11-19,11:00:00,2026-11-19,12:00:00,01:00:00,,\n"
    )
    done = await _import(team, "dave", "toggl", csv)
    assert (done["status"], done["imported_rows"]) == ("done", 3), done
    entries = (await team.call("dave", "GET", "/time-entries")).json()["items"]
    billable = {e["description"]: e["billable"] for e in entries}
    assert billable == {"Standup": False, "Billed anyway": True, "Hero": True}


def _toggl_rows(count: int) -> str:
    """``count`` one-hour entries of dave's on Website, an hour and a half apart (no overlaps)."""
    from datetime import datetime, timedelta

    header = TOGGL.splitlines()[0]
    lines, start = [header], datetime(2026, 6, 1, 6, 0)
    for n in range(count):
        begin, end = start + timedelta(minutes=90 * n), start + timedelta(minutes=90 * n + 60)
        lines.append(
            f"Dave Member,dave@acme.test,Acme,Website,,Row {n},Yes,{begin:%Y-%m-%d},{begin:%H:%M:%S},"
            f"{end:%Y-%m-%d},{end:%H:%M:%S},01:00:00,,"
        )
    return "\n".join(lines) + "\n"


async def test_a_worker_killed_mid_import_resumes_and_lands_every_row_once(
    team: Team, migrated: dict[str, str]
) -> None:
    import os
    import signal

    from backend.settings import get_settings

    rows = 450  # five chunks of 100
    slow = start_worker({**migrated, "WORKTIME_IMPORT_TEST_DELAY_MS": "1500"})
    started = await team.call("bob", "POST", "/time-imports", json={"source": "toggl", "csv": _toggl_rows(rows)})
    assert started.status_code == 202, started.text
    url = f"/time-imports/{started.json()['id']}"
    resumed = None
    try:
        for _ in range(1200):
            state = (await team.call("bob", "GET", url)).json()
            if state["status"] == "running" and 0 < state["done_rows"] < rows:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail(f"no chunk committed while running: {state}")
        os.killpg(slow.pid, signal.SIGKILL)
        slow.wait(10)
        landed = (await team.call("bob", "GET", url)).json()["done_rows"]
        assert 0 < landed < rows
        # The broker gives the job to the next worker once the dead one's heartbeat is stale.
        resumed = start_worker(migrated)
        heartbeat = get_settings().jobs_heartbeat_timeout_seconds
        for _ in range(int((heartbeat + 90) * 10)):
            state = (await team.call("bob", "GET", url)).json()
            if state["status"] in {"done", "failed"}:
                break
            await asyncio.sleep(0.1)
        assert state["status"] == "done", state
        assert (state["done_rows"], state["imported_rows"], state["duplicate_rows"]) == (rows, rows, 0), state
        assert state["errors"] == []
        listed = await team.call("bob", "GET", "/time-entries", params={"limit": 1})
        assert listed.json()["total"] == rows  # every row once: the committed chunks were not run again
    finally:
        stop_worker(slow)
        if resumed is not None:
            stop_worker(resumed)
