"""The running timer: one per person, race-free; overlaps refused by the database; access re-read on
every request."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import DEMO_IDS
from tests.tracking.conftest import Team


async def _running(team: Team, owner_db: Any, who: str) -> int:
    return int(
        await owner_db.fetchval(
            "SELECT count(*) FROM time_entries WHERE org_id = $1::uuid AND user_id = $2 AND end_at IS NULL",
            team.org,
            DEMO_IDS[who],
        )
    )


async def test_start_stop_and_409_with_the_running_entry(team: Team) -> None:
    assert (await team.call("dave", "GET", "/timer")).json() == {"running": None}
    started = await team.call("dave", "POST", "/timer", json={"project_id": team.project, "description": "a"})
    assert started.status_code == 201, started.text
    assert started.json()["running"] is True
    again = await team.call("dave", "POST", "/timer", json={"project_id": team.project})
    assert again.status_code == 409
    assert again.json()["running_entry"]["id"] == started.json()["id"]
    switched = await team.call("dave", "POST", "/timer", json={"project_id": team.project, "stop_running": True})
    assert switched.status_code == 201, switched.text
    old = (await team.call("dave", "GET", f"/time-entries/{started.json()['id']}")).json()
    assert old["end_at"] == switched.json()["start_at"]  # stopped at the same instant
    assert (await team.call("dave", "GET", "/timer")).json()["running"]["id"] == switched.json()["id"]
    stopped = await team.call("dave", "POST", "/timer/stop")
    assert stopped.status_code == 200 and stopped.json()["running"] is False
    assert (await team.call("dave", "POST", "/timer/stop")).status_code == 404
    running = await team.call("dave", "GET", "/time-entries", params={"running": "true"})
    assert running.json()["total"] == 0


async def test_concurrent_starts_leave_exactly_one_running(team: Team, owner_db: Any) -> None:
    headers = await team.tokens.headers("dave")
    body = {"project_id": team.project}
    responses = await asyncio.gather(
        *[team.client.post(f"{team.base}/timer", json=body, headers=headers) for _ in range(6)]
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201, 409, 409, 409, 409, 409], [r.text for r in responses]
    assert await _running(team, owner_db, "dave") == 1


async def test_overlaps_are_refused_naming_the_other_entry_unless_allowed(team: Team) -> None:
    first = (await team.log("dave", "2026-11-23T09:00:00Z", "2026-11-23T11:00:00Z")).json()
    clash = await team.log("dave", "2026-11-23T10:00:00Z", "2026-11-23T12:00:00Z")
    assert clash.status_code == 409, clash.text
    assert clash.json()["conflicting_entry"]["id"] == first["id"]
    assert first["id"] in clash.json()["detail"]
    # Touching is not overlapping; another person may overlap.
    assert (await team.log("dave", "2026-11-23T11:00:00Z", "2026-11-23T12:00:00Z")).status_code == 201
    assert (await team.log("carol", "2026-11-23T09:30:00Z", "2026-11-23T10:30:00Z")).status_code == 201
    # Moving an entry onto another is refused too.
    moved = await team.call("dave", "PATCH", f"/time-entries/{first['id']}", json={"end_at": "2026-11-23T11:30:00Z"})
    assert moved.status_code == 409
    # A running timer reaches into the future: an entry after its start overlaps it.
    await team.call("dave", "POST", "/timer", json={"project_id": team.project})
    soon = datetime.now(UTC) + timedelta(minutes=10)
    later = await team.log("dave", soon.isoformat(), (soon + timedelta(minutes=30)).isoformat())
    assert later.status_code == 409
    await team.call("dave", "POST", "/timer/stop")
    # The organization can switch the rule off, and back on only once nothing overlaps.
    off = await team.call("bob", "PATCH", "/time-settings", json={"prevent_overlaps": False})
    assert off.status_code == 200 and off.json()["prevent_overlaps"] is False
    overlapping = await team.log("dave", "2026-11-23T09:30:00Z", "2026-11-23T09:45:00Z")
    assert overlapping.status_code == 201
    on = await team.call("bob", "PATCH", "/time-settings", json={"prevent_overlaps": True})
    assert on.status_code == 409 and on.json()["field"] == "prevent_overlaps"
    await team.call("dave", "DELETE", f"/time-entries/{overlapping.json()['id']}")
    assert (await team.call("bob", "PATCH", "/time-settings", json={"prevent_overlaps": True})).status_code == 200


async def test_removed_from_the_project_or_organization_stops_logging_at_once(team: Team) -> None:
    assert (await team.call("dave", "POST", "/timer", json={"project_id": team.project})).status_code == 201
    assert (await team.call("dave", "POST", "/timer/stop")).status_code == 200
    removed = await team.call("carol", "DELETE", f"/projects/{team.project}/members/{DEMO_IDS['dave']}")
    assert removed.status_code == 204
    refused = await team.call("dave", "POST", "/timer", json={"project_id": team.project})
    assert refused.status_code == 403, refused.text
    assert (await team.log("dave", "2026-11-23T09:00:00Z", "2026-11-23T10:00:00Z")).status_code == 403
    # Back on the project, then out of the organization: the next request is a 404.
    await team.call(
        "carol", "PUT", f"/projects/{team.project}/members/{DEMO_IDS['dave']}", json={"role": "contributor"}
    )
    assert (await team.call("dave", "POST", "/timer", json={"project_id": team.project})).status_code == 201
    assert (await team.call("bob", "DELETE", f"/members/{DEMO_IDS['dave']}")).status_code == 204
    assert (await team.call("dave", "POST", "/timer/stop")).status_code == 404
    assert (await team.call("dave", "POST", "/timer", json={"project_id": team.project})).status_code == 404
