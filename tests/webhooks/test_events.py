"""Real changes reach webhook receivers: through the HTTP API with real tokens, the outbox, a real worker
and the loopback receiver; and every event type has a place that emits it."""

from __future__ import annotations

import ast
import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from standardwebhooks.webhooks import Webhook

from backend.core import hooks
from tests.conftest import DEMO_IDS
from tests.infra import start_worker, stop_worker
from tests.tracking.conftest import Team
from tests.webhooks.conftest import Receiver

BACKEND = Path(__file__).resolve().parents[2] / "backend"
EMITTERS = {"emit", "announce", "_announce"}  # hooks.emit and the domains' one-line payload helpers


async def _endpoint(team: Team, url: str, events: list[str]) -> dict[str, Any]:
    made = await team.call("bob", "POST", "/webhooks", json={"url": url, "events": events})
    assert made.status_code == 201, made.text
    return dict(made.json())


async def test_entries_and_timesheets_reach_subscribers_signed_and_rollbacks_do_not(
    team: Team, receiver: Receiver, app: FastAPI, migrated: dict[str, str]
) -> None:
    subscribed = await _endpoint(
        team, receiver.url, ["time_entry.created", "time_entry.updated", "timesheet.submitted"]
    )
    other = await _endpoint(team, receiver.url.replace("/hook", "/other"), ["time_entry.deleted", "timer.started"])
    made = await team.log("dave", "2026-11-24T09:00:00Z", "2026-11-24T17:00:00Z", description="Secret client talk")
    assert made.status_code == 201, made.text
    entry = made.json()
    dave = str(DEMO_IDS["dave"])
    # A failing request: the first entry's change is made (and announced) in its savepoint, the second id
    # does not exist, so the whole request rolls back and its event with it.
    failed = await team.call(
        "dave", "PATCH", "/time-entries", json={"ids": [entry["id"], str(uuid.uuid4())], "changes": {"billable": False}}
    )
    assert failed.status_code == 404, failed.text
    assert (await team.call("dave", "GET", f"/time-entries/{entry['id']}")).json()["billable"] is True
    changed = await team.call("dave", "PATCH", f"/time-entries/{entry['id']}", json={"description": "Planning"})
    assert changed.status_code == 200, changed.text
    submitted = await team.call("dave", "POST", "/timesheets/submit", json={"week": "2026-W48"})
    assert submitted.status_code == 200, submitted.text
    sheet = submitted.json()

    worker = start_worker({**migrated, "WORKTIME_WEBHOOK_ALLOW_LOOPBACK": "true"})
    try:
        for _ in range(200):
            if len(receiver.received) >= 3:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)  # anything that should not come has had its chance too
    finally:
        stop_worker(worker)

    assert {r.path for r in receiver.received} == {"/hook"}  # nothing for the other endpoint
    events = [Webhook(subscribed["secret"]).verify(r.body, r.headers) for r in receiver.received]
    by_type = {event["type"]: event for event in events}
    assert sorted(e["type"] for e in events) == ["time_entry.created", "time_entry.updated", "timesheet.submitted"]
    assert all(e["org_id"] == team.org and e["version"] == 1 for e in events)
    assert [r.headers["webhook-id"] for r in receiver.received] == [e["id"] for e in events]
    created = by_type["time_entry.created"]["data"]
    assert created == {
        "entry_id": entry["id"],
        "user_id": dave,
        "project_id": team.project,
        "task_id": None,
        "start_at": "2026-11-24T09:00:00+00:00",
        "end_at": "2026-11-24T17:00:00+00:00",
        "duration_seconds": 8 * 3600,
        "billable": True,
        "source": "manual",
    }
    updated = by_type["time_entry.updated"]["data"]
    assert updated["entry_id"] == entry["id"] and updated["billable"] is True  # the rolled-back change never went
    sheet_event = by_type["timesheet.submitted"]["data"]
    assert sheet_event["timesheet_id"] == sheet["id"] and sheet_event["user_id"] == dave
    assert sheet_event["week"] == "2026-W48" and sheet_event["decided_by"] is None
    for received in receiver.received:  # ids and scalars only: no free text
        assert b"Secret client talk" not in received.body and b"Planning" not in received.body
    # The delivery logs say the same: three succeeded for the subscriber, none for the other endpoint.
    log = (await team.call("erin", "GET", f"/webhooks/{subscribed['id']}/deliveries")).json()["items"]
    assert sorted((d["event_type"], d["status"]) for d in log) == [
        ("time_entry.created", "succeeded"),
        ("time_entry.updated", "succeeded"),
        ("timesheet.submitted", "succeeded"),
    ]
    assert (await team.call("erin", "GET", f"/webhooks/{other['id']}/deliveries")).json()["items"] == []


async def test_lock_approval_timer_and_member_changes_are_written_to_the_outbox(team: Team, owner_db: Any) -> None:
    """The other services emit in the request's transaction: the fan-out jobs are in the outbox."""
    org = uuid.UUID(team.org)

    async def fanned_out() -> list[dict[str, Any]]:
        rows = await owner_db.fetch(
            "SELECT arguments FROM outbox WHERE org_id = $1 AND actor_name = 'fan_out_event' ORDER BY created_at, id",
            org,
        )
        return [json.loads(r["arguments"])[1] for r in rows]

    before = len(await fanned_out())
    assert (await team.call("dave", "POST", "/timer", json={"project_id": team.project})).status_code == 201
    assert (await team.call("dave", "POST", "/timer/stop")).status_code == 200
    made = (await team.log("dave", "2026-11-17T09:00:00Z", "2026-11-17T10:00:00Z")).json()
    sheet = (await team.call("dave", "POST", "/timesheets/submit", json={"week": "2026-W47"})).json()
    rejection = await team.call("carol", "POST", f"/timesheets/{sheet['id']}/reject", json={"reason": "x"})
    assert rejection.status_code == 200, rejection.text
    assert (await team.call("dave", "POST", "/timesheets/submit", json={"week": "2026-W47"})).status_code == 200
    assert (await team.call("carol", "POST", f"/timesheets/{sheet['id']}/approve")).status_code == 200
    assert (await team.call("carol", "POST", f"/timesheets/{sheet['id']}/reopen")).status_code == 200
    assert (await team.call("dave", "DELETE", f"/time-entries/{made['id']}")).status_code == 204
    locked = await team.call("alice", "PUT", "/time-lock", json={"locked_until": "2026-11-01T00:00:00Z"})
    assert locked.status_code == 200, locked.text
    assert (await team.call("alice", "PUT", "/time-lock", json={"locked_until": None})).status_code == 200
    dave_id = str(DEMO_IDS["dave"])
    assert (await team.call("bob", "DELETE", f"/members/{dave_id}")).status_code == 204
    events = (await fanned_out())[before:]
    assert [e["type"] for e in events] == [
        "timer.started",
        "timer.stopped",
        "time_entry.created",
        "timesheet.submitted",
        "timesheet.rejected",
        "timesheet.submitted",
        "timesheet.approved",  # the reopen is no event
        "time_entry.deleted",
        "period.locked",  # moving the lock back is no event
        "member.removed",
    ]
    assert all(e["org_id"] == team.org for e in events)
    rejected = events[4]["data"]
    assert rejected["timesheet_id"] == sheet["id"] and "x" not in rejected.values()
    assert events[6]["data"]["decided_by"] is not None
    assert events[8]["data"]["locked_until"] == "2026-11-01T00:00:00+00:00"
    assert events[9]["data"] == {
        "user_id": dave_id,
        "role": "member",
        "left": False,
        "removed_by": str(DEMO_IDS["bob"]),
    }


def test_every_event_type_has_an_emit_call_site() -> None:
    """A new event type cannot go silent: each one is named by a literal in an emit (or the domain's
    payload helper) call somewhere in the backend."""
    emitted: set[str] = set()
    for path in BACKEND.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            literals = [a.value for a in [*node.args, *(k.value for k in node.keywords)] if isinstance(a, ast.Constant)]
            if name in EMITTERS or any(k.arg == "event_type" for k in node.keywords):
                emitted.update(v for v in literals if isinstance(v, str))
    missing = [event for event in hooks.EVENT_TYPES if event not in emitted]
    assert missing == [], f"no emit call site for {missing}"
