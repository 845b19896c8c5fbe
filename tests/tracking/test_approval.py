"""Timesheets (a person's ISO week in their zone), approval without self-approval, and the period lock
with append-only corrections."""

from __future__ import annotations

from typing import Any

from tests.conftest import DEMO_IDS
from tests.tracking.conftest import Team


async def test_week_is_counted_in_the_persons_time_zone(team: Team) -> None:
    await team.call("dave", "PUT", "/time-zone", json={"time_zone": "America/New_York"})
    # Monday 2026-11-23 02:00 UTC is still Sunday evening in New York: week 47 there.
    made = await team.log("dave", "2026-11-23T02:00:00Z", "2026-11-23T03:00:00Z")
    assert made.status_code == 201, made.text
    w47 = (await team.call("dave", "GET", "/timesheets", params={"week": "2026-W47"})).json()
    w48 = (await team.call("dave", "GET", "/timesheets", params={"week": "2026-W48"})).json()
    assert [e["id"] for e in w47["entries"]] == [made.json()["id"]]
    assert w48["entries"] == [] and w47["status"] == "open" and w47["total_seconds"] == 3600
    assert w47["time_zone"] == "America/New_York"
    assert (await team.call("dave", "GET", "/timesheets", params={"week": "2026-W99"})).status_code == 422


async def test_submit_approve_reject_reopen_and_nobody_approves_their_own(team: Team, owner_db: Any) -> None:
    entry = (await team.log("dave", "2026-11-24T09:00:00Z", "2026-11-24T17:00:00Z")).json()
    submitted = await team.call("dave", "POST", "/timesheets/submit", json={"week": "2026-W48"})
    assert submitted.status_code == 200, submitted.text
    sheet = submitted.json()
    assert sheet["status"] == "submitted" and sheet["total_seconds"] == 8 * 3600
    # Submitted: read-only for dave until decided.
    frozen = await team.call("dave", "PATCH", f"/time-entries/{entry['id']}", json={"description": "late"})
    assert frozen.status_code == 409
    # Not dave himself, not erin (auditor), not a lead of another project.
    assert (await team.call("dave", "POST", f"/timesheets/{sheet['id']}/approve")).status_code == 403
    assert (await team.call("erin", "POST", f"/timesheets/{sheet['id']}/approve")).status_code == 403
    rejected = await team.call("carol", "POST", f"/timesheets/{sheet['id']}/reject", json={"reason": "Tuesday?"})
    assert rejected.status_code == 200 and rejected.json()["reason"] == "Tuesday?"
    assert (await team.call("carol", "POST", f"/timesheets/{sheet['id']}/reject", json={})).status_code == 422
    fixed = await team.call("dave", "PATCH", f"/time-entries/{entry['id']}", json={"description": "fixed"})
    assert fixed.status_code == 200
    await team.call("dave", "POST", "/timesheets/submit", json={"week": "2026-W48"})
    queue = await team.call("carol", "GET", "/timesheets/queue", params={"status": "submitted"})
    assert [s["id"] for s in queue.json()["items"]] == [sheet["id"]]
    approved = await team.call("carol", "POST", f"/timesheets/{sheet['id']}/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert approved.json()["decided_by"] == str(DEMO_IDS["carol"])
    for method, body in (("PATCH", {"description": "again"}), ("DELETE", None)):
        response = await team.call("carol", method, f"/time-entries/{entry['id']}", json=body)
        assert response.status_code == 409 and "approved" in response.json()["detail"]
    assert (await team.log("dave", "2026-11-25T09:00:00Z", "2026-11-25T10:00:00Z")).status_code == 409
    reopened = await team.call("bob", "POST", f"/timesheets/{sheet['id']}/reopen")
    assert reopened.status_code == 200 and reopened.json()["status"] == "reopened"
    assert (await team.call("dave", "DELETE", f"/time-entries/{entry['id']}")).status_code == 204
    # The owner submits her own week: even she cannot approve it; an admin can.
    own = (await team.log("alice", "2026-11-24T09:00:00Z", "2026-11-24T10:00:00Z")).json()
    assert own["user_id"] == str(DEMO_IDS["alice"])
    alices = (await team.call("alice", "POST", "/timesheets/submit", json={"week": "2026-W48"})).json()
    self_approval = await team.call("alice", "POST", f"/timesheets/{alices['id']}/approve")
    assert self_approval.status_code == 403 and "own" in self_approval.json()["detail"]
    assert (await team.call("bob", "POST", f"/timesheets/{alices['id']}/approve")).status_code == 200
    actions = await owner_db.fetch(
        "SELECT action FROM audit_events WHERE org_id = $1::uuid AND resource_type = 'timesheet' ORDER BY seq",
        team.org,
    )
    assert [a["action"] for a in actions] == [
        "timesheet.submitted",
        "timesheet.rejected",
        "timesheet.submitted",
        "timesheet.approved",
        "timesheet.reopened",
        "timesheet.submitted",
        "timesheet.approved",
    ]


async def test_period_lock_and_corrections(team: Team, owner_db: Any) -> None:
    entry = (await team.log("dave", "2026-10-05T09:00:00Z", "2026-10-05T11:00:00Z")).json()
    assert (
        await team.call("carol", "PUT", "/time-lock", json={"locked_until": "2026-11-01T00:00:00Z"})
    ).status_code == 403
    locked = await team.call("bob", "PUT", "/time-lock", json={"locked_until": "2026-11-01T00:00:00+00:00"})
    assert locked.status_code == 200, locked.text
    assert (await team.call("dave", "GET", "/time-lock")).json()["locked_until"] == "2026-11-01T00:00:00Z"
    # Nobody creates, edits or deletes before the lock: not even the owner.
    for who in ("dave", "alice"):
        made = await team.log(who, "2026-10-06T09:00:00Z", "2026-10-06T10:00:00Z")
        assert made.status_code == 409 and made.json()["field"] == "start_at", made.text
        patched = await team.call(who, "PATCH", f"/time-entries/{entry['id']}", json={"description": "x"})
        assert patched.status_code == 409
        assert (await team.call(who, "DELETE", f"/time-entries/{entry['id']}")).status_code == 409
    # Moving an open entry into the locked period is refused too.
    later = (await team.log("dave", "2026-11-10T09:00:00Z", "2026-11-10T10:00:00Z")).json()
    moved = await team.call(
        "dave",
        "PATCH",
        f"/time-entries/{later['id']}",
        json={"start_at": "2026-10-10T09:00:00Z", "end_at": "2026-10-10T10:00:00Z"},
    )
    assert moved.status_code == 409
    # A correction: append-only, added to the original in reads and reports.
    body = {"duration_delta_seconds": -1800, "reason": "Left early; entered 2 h by mistake"}
    assert (await team.call("dave", "POST", f"/time-entries/{entry['id']}/corrections", json=body)).status_code == 403
    corrected = await team.call("carol", "POST", f"/time-entries/{entry['id']}/corrections", json=body)
    assert corrected.status_code == 201, corrected.text
    read = (await team.call("dave", "GET", f"/time-entries/{entry['id']}")).json()
    assert (read["duration_seconds"], read["corrected_duration_seconds"], read["locked"]) == (7200, 5400, True)
    listed = await team.call("dave", "GET", f"/time-entries/{entry['id']}/corrections")
    assert [c["reason"] for c in listed.json()] == [body["reason"]]
    # The runtime role cannot rewrite a correction.
    assert "UPDATE" not in {
        r["privilege_type"]
        for r in await owner_db.fetch(
            "SELECT privilege_type FROM information_schema.role_table_grants "
            "WHERE table_name = 'time_entry_corrections' AND grantee = 'worktime_app'"
        )
    }
    # Moving the lock back needs the owner, and is audited as such.
    back = {"locked_until": "2026-10-01T00:00:00Z"}
    assert (await team.call("bob", "PUT", "/time-lock", json=back)).status_code == 403
    assert (await team.call("alice", "PUT", "/time-lock", json=back)).status_code == 200
    actions = await owner_db.fetch(
        "SELECT action FROM audit_events WHERE org_id = $1::uuid AND resource_type = 'time_lock' ORDER BY seq",
        team.org,
    )
    assert [a["action"] for a in actions] == ["time_lock.set", "time_lock.moved_back"]
    assert (
        await team.call("dave", "PATCH", f"/time-entries/{entry['id']}", json={"description": "ok"})
    ).status_code == 200
