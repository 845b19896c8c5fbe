"""Events' status and privacy: a private event is busy time to everyone but its creator and attendees, in
the API and in Postgres itself (row-level security, migration 0039); statuses filter the list and a
cancelled event stays in it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from backend.reminders import service as reminders
from tests.conftest import DEMO_IDS, Tokens, add_member, create_org

WINDOW = {"from": "2026-11-30T00:00:00Z", "to": "2027-01-01T00:00:00Z"}
PRIVATE = {
    "title": "Doctor appointment",
    "description": "Knee check-up",
    "location": "Clinic on Main Street",
    "starts_at": "2026-12-10T14:00:00Z",
    "ends_at": "2026-12-10T15:00:00Z",
    "privacy": "private",
}


@pytest.fixture
async def org(client: httpx.AsyncClient, tokens: Tokens, owner_db: Any) -> dict[str, Any]:
    created = await create_org(client, await tokens.headers("alice"), f"Private calendar {uuid.uuid4().hex[:6]}")
    for name, role in [("bob", "admin"), ("carol", "member"), ("dave", "member"), ("erin", "auditor")]:
        await add_member(owner_db, created["id"], DEMO_IDS[name], role)
    created["base"] = f"/api/v1/orgs/{created['id']}/events"
    return created


async def _as(runtime_db: Any, org_id: str, user: str | None, query: str, *args: Any) -> list[Any]:
    """A raw query under the runtime role with only the tenant (and person) bound: what RLS alone allows."""
    async with runtime_db.transaction():
        await runtime_db.execute(
            "SELECT set_config('app.org_id', $1, true), set_config('app.user_id', $2, true)",
            org_id,
            str(DEMO_IDS[user]) if user else "",
        )
        return list(await runtime_db.fetch(query, *args))


async def test_a_private_event_is_busy_time_to_others_even_in_raw_sql(
    client: httpx.AsyncClient, tokens: Tokens, org: dict[str, Any], runtime_db: Any, owner_db: Any
) -> None:
    alice, bob, carol, dave, erin = [await tokens.headers(n) for n in ("alice", "bob", "carol", "dave", "erin")]
    base = org["base"]
    made = await client.post(base, json={**PRIVATE, "attendee_ids": [str(DEMO_IDS["carol"])]}, headers=dave)
    assert made.status_code == 201, made.text
    event = made.json()
    assert event["privacy"] == "private" and event["status"] == "confirmed" and event["busy"] is False
    url = f"{base}/{event['id']}"

    # Its creator and its attendee read it all.
    for reader in (dave, carol):
        read = (await client.get(url, headers=reader)).json()
        assert read["title"] == "Doctor appointment" and read["location"] == "Clinic on Main Street"
        assert [a["user_id"] for a in read["attendees"]] == [str(DEMO_IDS["carol"])]
    # The owner, an admin and the auditor see when, not what.
    for outsider in (alice, bob, erin):
        read = await client.get(url, headers=outsider)
        assert read.status_code == 200, read.text
        busy = read.json()
        assert busy["busy"] is True and busy["privacy"] == "private"
        assert busy["title"] is None and busy["description"] is None and busy["location"] is None
        assert busy["attendees"] == [] and busy["project_id"] is None
        assert busy["starts_at"].startswith("2026-12-10T14:00") and busy["created_by"] == str(DEMO_IDS["dave"])
        [listed] = (await client.get(base, params=WINDOW, headers=outsider)).json()["items"]
        assert listed["busy"] is True and listed["title"] is None and listed["location"] is None
        assert listed["event_id"] == event["id"] and listed["created_by"] == str(DEMO_IDS["dave"])
        # A filter by attendee must not reveal who attends it.
        by_carol = await client.get(base, params={**WINDOW, "attendee": str(DEMO_IDS["carol"])}, headers=outsider)
        assert by_carol.json()["items"] == []
    assert "Doctor" not in (await client.get(base, params=WINDOW, headers=erin)).text

    # Postgres itself: under the runtime role, with another member bound, no row, no title, no attendees.
    title = "SELECT title, location FROM events WHERE id = $1::uuid"
    attendees = "SELECT user_id FROM event_attendees WHERE event_id = $1::uuid"
    for outsider in ("alice", "bob", "erin"):
        assert await _as(runtime_db, org["id"], outsider, title, event["id"]) == []
        assert await _as(runtime_db, org["id"], outsider, attendees, event["id"]) == []
        [busy_row] = await _as(
            runtime_db, org["id"], outsider, "SELECT * FROM app_event_busy(NULL, NULL, $1::uuid)", event["id"]
        )
        columns = set(busy_row.keys())
        assert columns == {
            "id", "starts_at", "ends_at", "all_day", "rrule", "timezone", "status", "created_by", "created_at",
            "updated_at",
        }  # fmt: skip
        # The reminder evaluator's function answers only while no person is bound.
        due = "SELECT * FROM app_due_event_reminders(now() + interval '10 years', now() - interval '10 years')"
        assert await _as(runtime_db, org["id"], outsider, due) == []
    for reader in ("dave", "carol"):
        [row] = await _as(runtime_db, org["id"], reader, title, event["id"])
        assert row["title"] == "Doctor appointment"
        assert len(await _as(runtime_db, org["id"], reader, attendees, event["id"])) == 1
    # Nor can an outsider write it in raw SQL (the policy, not the service, refuses).
    changed = await _as(
        runtime_db, org["id"], "bob", "UPDATE events SET title = 'x' WHERE id = $1::uuid RETURNING id", event["id"]
    )
    assert changed == []

    # Only its creator changes it: not an admin, not the owner, not its attendee.
    for other in (alice, bob, carol):
        refused = await client.patch(url, json={"title": "Renamed"}, headers=other)
        assert refused.status_code == 403, refused.text
        assert "private" in refused.json()["detail"]
        assert (await client.delete(url, headers=other)).status_code == 403
    # Its attendee still answers the invitation.
    answered = await client.put(f"{url}/rsvp", json={"response": "accepted"}, headers=carol)
    assert answered.status_code == 200 and answered.json()["attendees"][0]["rsvp"] == "accepted"

    # The audit trail (which auditors read) never holds a private event's details.
    moved = await client.patch(url, json={"location": "Other clinic"}, headers=dave)
    assert moved.status_code == 200, moved.text
    changes = await owner_db.fetch(
        "SELECT changes::text AS c FROM audit_events WHERE org_id = $1::uuid AND resource_type = 'event'", org["id"]
    )
    assert changes and all("Doctor" not in (r["c"] or "") and "clinic" not in (r["c"] or "") for r in changes)

    # Made public by its creator: everyone reads it, in the API and in the database.
    public = await client.patch(url, json={"privacy": "public"}, headers=dave)
    assert public.status_code == 200 and public.json()["privacy"] == "public"
    read = (await client.get(url, headers=erin)).json()
    assert read["busy"] is False and read["title"] == "Doctor appointment" and len(read["attendees"]) == 1
    [row] = await _as(runtime_db, org["id"], "erin", title, event["id"])
    assert row["location"] == "Other clinic"
    assert await _as(runtime_db, org["id"], "erin", attendees, event["id"]) != []
    # Someone else's event is made private only by its creator.
    refused = await client.patch(url, json={"privacy": "private"}, headers=bob)
    assert refused.status_code == 403
    # A private event is created only as its creator (raw SQL claiming someone else's name is refused).
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        await _as(
            runtime_db,
            org["id"],
            "bob",
            "INSERT INTO events (id, org_id, title, starts_at, ends_at, privacy, created_by, created_at, updated_at)"
            " VALUES (gen_random_uuid(), $1::uuid, 't', now(), now(), 'private', $2::uuid, now(), now())",
            org["id"],
            DEMO_IDS["dave"],
        )


async def test_status_filters_the_list_and_cancelled_events_stay_listed(
    client: httpx.AsyncClient, tokens: Tokens, org: dict[str, Any]
) -> None:
    dave, erin = await tokens.headers("dave"), await tokens.headers("erin")
    base = org["base"]
    made = {}
    for day, status in [(7, "confirmed"), (8, "tentative"), (9, "confirmed")]:
        response = await client.post(
            base,
            json={
                "title": f"Event {status} {day}",
                "starts_at": f"2026-12-{day:02d}T10:00:00Z",
                "ends_at": f"2026-12-{day:02d}T11:00:00Z",
                "status": status,
            },
            headers=dave,
        )
        assert response.status_code == 201, response.text
        assert response.json()["status"] == status
        made[day] = response.json()
    cancelled = await client.patch(f"{base}/{made[9]['id']}", json={"status": "cancelled"}, headers=dave)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    # A private one of dave's, tentative: busy time for erin, filtered by its status like the others.
    busy = await client.post(base, json={**PRIVATE, "status": "tentative"}, headers=dave)
    assert busy.status_code == 201, busy.text

    listed = (await client.get(base, params=WINDOW, headers=erin)).json()["items"]
    assert [(o["starts_at"][:10], o["status"], o["busy"]) for o in listed] == [
        ("2026-12-07", "confirmed", False),
        ("2026-12-08", "tentative", False),
        ("2026-12-09", "cancelled", False),
        ("2026-12-10", "tentative", True),
    ]
    only = (await client.get(base, params={**WINDOW, "status": "cancelled"}, headers=erin)).json()["items"]
    assert [o["title"] for o in only] == ["Event confirmed 9"]
    several = await client.get(
        base, params=[*WINDOW.items(), ("status", "tentative"), ("status", "confirmed")], headers=erin
    )
    assert [(o["title"], o["busy"]) for o in several.json()["items"]] == [
        ("Event confirmed 7", False),
        ("Event tentative 8", False),
        (None, True),
    ]
    wrong = await client.get(base, params={**WINDOW, "status": "maybe"}, headers=erin)
    assert wrong.status_code == 422
    for bad in ({"status": "postponed"}, {"privacy": "secret"}, {"status": None}):
        refused = await client.patch(f"{base}/{made[7]['id']}", json=bad, headers=dave)
        assert refused.status_code == (200 if bad == {"status": None} else 422), refused.text


async def test_private_event_reminders_reach_its_attendees_but_not_a_cancelled_event(
    app: FastAPI, client: httpx.AsyncClient, tokens: Tokens, org: dict[str, Any]
) -> None:
    dave, carol = await tokens.headers("dave"), await tokens.headers("carol")
    now = datetime.now(UTC)
    timing = {
        "starts_at": (now + timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat(),
        "reminder_at": (now - timedelta(minutes=1)).isoformat(),
        "attendee_ids": [str(DEMO_IDS["carol"])],
    }
    private = await client.post(
        org["base"], json={**timing, "title": "Secret planning", "privacy": "private"}, headers=dave
    )
    assert private.status_code == 201, private.text
    off = await client.post(org["base"], json={**timing, "title": "Called off", "status": "cancelled"}, headers=dave)
    assert off.status_code == 201, off.text
    await reminders.evaluate_org(app.state.db, uuid.UUID(org["id"]))
    response = await client.get("/api/v1/me/notifications", params={"limit": 100}, headers=carol)
    titles = [n["title"] for n in response.json()["items"] if n["org_id"] == org["id"]]
    assert titles == ["Reminder: Secret planning"]
