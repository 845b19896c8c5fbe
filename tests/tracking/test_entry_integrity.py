# ruff: noqa: E501  (CSV rows as the tools write them)
"""An entry takes its project's billable flag unless told otherwise, and its task must be a live task of
its own project (a clear 422 from the API, a composite foreign key underneath)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from tests.tracking.conftest import Team

MONDAY, MONDAY_END = "2026-11-16T09:00:00Z", "2026-11-16T10:00:00Z"
TUESDAY, TUESDAY_END = "2026-11-17T09:00:00Z", "2026-11-17T10:00:00Z"


async def _task(team: Team, project_id: str, title: str = "A task") -> str:
    created = await team.call("alice", "POST", f"/projects/{project_id}/tasks", json={"title": title})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_new_entries_and_timers_take_the_projects_billable_flag(team: Team) -> None:
    internal = await team.new_project("Internal", {"dave": "contributor"}, billable=False)
    logged = await team.call(
        "dave", "POST", "/time-entries", json={"project_id": internal, "start_at": MONDAY, "end_at": MONDAY_END}
    )
    assert logged.status_code == 201, logged.text
    assert logged.json()["billable"] is False
    said = await team.call(
        "dave", "POST", "/time-entries",
        json={"project_id": internal, "start_at": TUESDAY, "end_at": TUESDAY_END, "billable": True},
    )  # fmt: skip
    assert said.status_code == 201, said.text
    assert said.json()["billable"] is True  # the caller's word wins
    started = await team.call("dave", "POST", "/timer", json={"project_id": internal})
    assert started.status_code == 201, started.text
    assert started.json()["billable"] is False
    billable = await team.log("dave", "2026-11-18T09:00:00Z", "2026-11-18T10:00:00Z")  # the default project
    assert billable.json()["billable"] is True


async def test_a_task_of_another_project_or_none_at_all_is_refused_with_422(team: Team) -> None:
    other = await team.new_project("Other", {"dave": "contributor"})
    theirs = await _task(team, other)
    ours = await _task(team, team.project)
    for task_id in (theirs, str(uuid.uuid4())):
        refused = await team.log("dave", MONDAY, MONDAY_END, task_id=task_id)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["field"] == "task_id"
        timer = await team.call("dave", "POST", "/timer", json={"project_id": team.project, "task_id": task_id})
        assert timer.status_code == 422, timer.text
    assert (await team.call("dave", "GET", "/time-entries")).json()["total"] == 0  # nothing half-written

    entry = await team.log("dave", MONDAY, MONDAY_END, task_id=ours)
    assert entry.status_code == 201, entry.text
    assert entry.json()["task_id"] == ours
    entry_id = entry.json()["id"]
    # Moving the entry to another project while it keeps this project's task is refused...
    moved = await team.call("dave", "PATCH", f"/time-entries/{entry_id}", json={"project_id": other})
    assert moved.status_code == 422, moved.text
    assert moved.json()["field"] == "task_id"
    # ...moving it with a task of the new project (or none) is fine.
    moved = await team.call("dave", "PATCH", f"/time-entries/{entry_id}", json={"project_id": other, "task_id": theirs})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["project_id"], moved.json()["task_id"]) == (other, theirs)
    # A deleted task takes no new time.
    deleted = await team.call("alice", "DELETE", f"/projects/{other}/tasks/{theirs}")
    assert deleted.status_code == 204, deleted.text
    refused = await team.call(
        "dave",
        "POST",
        "/time-entries",
        json={"project_id": other, "task_id": theirs, "start_at": TUESDAY, "end_at": TUESDAY_END},
    )
    assert refused.status_code == 422, refused.text


async def test_the_database_refuses_a_task_of_another_project(team: Team, owner_db: Any) -> None:
    """The composite key holds even for a write that skips the service (a buggy query, a script)."""
    other = await team.new_project("Elsewhere", {"dave": "contributor"})
    theirs = await _task(team, other)
    entry = await team.log("dave", MONDAY, MONDAY_END)
    assert entry.status_code == 201, entry.text
    await owner_db.execute("SELECT set_config('app.org_id', $1, false)", team.org)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await owner_db.execute(
            "UPDATE time_entries SET task_id = $1 WHERE org_id = $2 AND id = $3",
            uuid.UUID(theirs), uuid.UUID(team.org), uuid.UUID(entry.json()["id"]),
        )  # fmt: skip
    kept = await team.call("dave", "GET", f"/time-entries/{entry.json()['id']}")
    assert kept.json()["task_id"] is None


def test_an_import_row_with_an_empty_billable_column_leaves_it_to_the_project() -> None:
    from backend.tracking import importer

    header = "User,Email,Client,Project,Task,Description,Billable,Start date,Start time,End date,End time,Duration,Tags,Amount (USD)\n"
    rows, fatal = importer.parse(
        "toggl",
        header
        + "Dave,dave@acme.test,,Internal,,Said yes,Yes,2026-11-16,09:00:00,2026-11-16,10:00:00,01:00:00,,\n"
        + "Dave,dave@acme.test,,Internal,,Said nothing,,2026-11-16,11:00:00,2026-11-16,12:00:00,01:00:00,,\n",
    )
    assert fatal is None
    assert [getattr(row, "billable", "error") for row in rows] == [True, None]
