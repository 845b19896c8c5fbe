from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import DEMO_IDS, Tokens, add_member, create_org

WINDOW = {"from": "2026-11-30T00:00:00Z", "to": "2027-01-01T00:00:00Z"}


@pytest.fixture
async def org(client: httpx.AsyncClient, tokens: Tokens, owner_db: Any) -> dict[str, Any]:
    created = await create_org(client, await tokens.headers("alice"), "Calendar")
    for name, role in [("bob", "admin"), ("dave", "member"), ("erin", "auditor")]:
        await add_member(owner_db, created["id"], DEMO_IDS[name], role)
    created["base"] = f"/api/v1/orgs/{created['id']}/events"
    return created


async def test_recurring_events_expand_within_the_window(
    client: httpx.AsyncClient, tokens: Tokens, org: dict[str, Any]
) -> None:
    dave, erin = await tokens.headers("dave"), await tokens.headers("erin")
    base = org["base"]
    weekly = await client.post(
        base,
        json={
            "title": "Standup",
            "starts_at": "2026-12-01T09:00:00+01:00",
            "ends_at": "2026-12-01T09:15:00+01:00",
            "rrule": "FREQ=WEEKLY;BYDAY=TU;COUNT=6",
            "location": "Room 1",
            "attendee_ids": [str(DEMO_IDS["dave"]), str(DEMO_IDS["bob"])],
        },
        headers=dave,
    )
    assert weekly.status_code == 201, weekly.text
    once = await client.post(
        base,
        json={"title": "Party", "starts_at": "2026-12-18T17:00:00Z", "ends_at": "2026-12-18T23:00:00Z"},
        headers=dave,
    )
    assert once.status_code == 201
    listed = (await client.get(base, params=WINDOW, headers=erin)).json()
    starts = [(o["title"], o["starts_at"][:16]) for o in listed["items"]]
    assert starts == [
        ("Standup", "2026-12-01T08:00"),
        ("Standup", "2026-12-08T08:00"),
        ("Standup", "2026-12-15T08:00"),
        ("Party", "2026-12-18T17:00"),
        ("Standup", "2026-12-22T08:00"),
        ("Standup", "2026-12-29T08:00"),
    ]
    event_url = f"{base}/{weekly.json()['id']}"
    cancelled = await client.post(
        f"{event_url}/cancellations", json={"occurrence_start": "2026-12-08T08:00:00Z"}, headers=dave
    )
    assert cancelled.status_code == 200, cancelled.text
    not_one = await client.post(
        f"{event_url}/cancellations", json={"occurrence_start": "2026-12-09T08:00:00Z"}, headers=dave
    )
    assert not_one.status_code == 422 and not_one.json()["field"] == "occurrence_start"
    page = (await client.get(base, params={**WINDOW, "limit": 2, "offset": 1}, headers=dave)).json()
    assert page["total"] == 5
    assert [o["starts_at"][:10] for o in page["items"]] == ["2026-12-15", "2026-12-18"]
    january = (
        await client.get(base, params={"from": "2027-01-01T00:00:00Z", "to": "2027-02-01T00:00:00Z"}, headers=dave)
    ).json()
    assert [o["starts_at"][:10] for o in january["items"]] == ["2027-01-05"]  # the sixth and last
    mine = (await client.get(base, params={**WINDOW, "attendee": "me"}, headers=dave)).json()
    assert {o["title"] for o in mine["items"]} == {"Standup"}
    too_long = await client.get(
        base, params={"from": "2026-01-01T00:00:00Z", "to": "2028-01-01T00:00:00Z"}, headers=dave
    )
    assert too_long.status_code == 422


async def test_bad_rules_times_and_attendees_are_refused(
    client: httpx.AsyncClient, tokens: Tokens, org: dict[str, Any]
) -> None:
    dave = await tokens.headers("dave")
    slot = {"title": "X", "starts_at": "2026-12-01T09:00:00Z", "ends_at": "2026-12-01T10:00:00Z"}
    for rule in ("FREQ=SOMETIMES", "EVERY MONDAY", "FREQ=DAILY;UNTIL=20261205T000000"):
        refused = await client.post(org["base"], json={**slot, "rrule": rule}, headers=dave)
        assert refused.status_code == 422, (rule, refused.text)
        assert refused.json()["field"] == "rrule"
    backwards = await client.post(org["base"], json={**slot, "ends_at": "2026-12-01T08:00:00Z"}, headers=dave)
    assert backwards.status_code == 422 and backwards.json()["field"] == "ends_at"
    naive = await client.post(org["base"], json={**slot, "starts_at": "2026-12-01T09:00:00"}, headers=dave)
    assert naive.status_code == 422
    stranger = await client.post(org["base"], json={**slot, "attendee_ids": [str(DEMO_IDS["heidi"])]}, headers=dave)
    assert stranger.status_code == 422 and stranger.json()["field"] == "attendee_ids"
    assert (await client.get(org["base"], params=WINDOW, headers=dave)).json()["total"] == 0


async def test_who_changes_and_answers(client: httpx.AsyncClient, tokens: Tokens, org: dict[str, Any]) -> None:
    dave, bob, erin, alice = [await tokens.headers(n) for n in ("dave", "bob", "erin", "alice")]
    made = (
        await client.post(
            org["base"],
            json={
                "title": "Review",
                "starts_at": "2026-12-03T13:00:00Z",
                "ends_at": "2026-12-03T14:00:00Z",
                "attendee_ids": [str(DEMO_IDS["bob"])],
            },
            headers=dave,
        )
    ).json()
    url = f"{org['base']}/{made['id']}"
    answered = await client.put(f"{url}/rsvp", json={"response": "tentative"}, headers=bob)
    assert answered.json()["attendees"] == [{"user_id": str(DEMO_IDS["bob"]), "rsvp": "tentative"}]
    assert (await client.put(f"{url}/rsvp", json={"response": "accepted"}, headers=alice)).status_code == 403
    assert (await client.put(f"{url}/rsvp", json={"response": "accepted"}, headers=erin)).status_code == 403
    assert (await client.patch(url, json={"title": "Mine"}, headers=erin)).status_code == 403
    # An admin changes anyone's event.
    moved = await client.patch(url, json={"location": "Room 2", "starts_at": "2026-12-03T12:00:00Z"}, headers=bob)
    assert moved.status_code == 200 and moved.json()["location"] == "Room 2"
    assert (await client.get(url, headers=await tokens.headers("grace"))).status_code == 404
    assert (await client.delete(url, headers=dave)).status_code == 204
    assert (await client.get(url, headers=dave)).status_code == 404


async def test_a_recurring_event_keeps_its_local_time_across_a_dst_change(
    client: httpx.AsyncClient, tokens: Tokens, org: dict[str, Any]
) -> None:
    """Europe/Berlin leaves summer time on 2026-10-25: a Monday 09:00 meeting moves from 07:00Z to 08:00Z,
    while the same rule in UTC stays at 07:00Z."""
    dave = await tokens.headers("dave")
    base = org["base"]
    slot = {"starts_at": "2026-10-12T09:00:00+02:00", "ends_at": "2026-10-12T10:00:00+02:00"}
    berlin = await client.post(
        base,
        json={**slot, "title": "Berlin", "rrule": "FREQ=WEEKLY;BYDAY=MO;COUNT=4", "timezone": "Europe/Berlin"},
        headers=dave,
    )
    assert berlin.status_code == 201, berlin.text
    assert berlin.json()["timezone"] == "Europe/Berlin"
    utc = await client.post(base, json={**slot, "title": "UTC", "rrule": "FREQ=WEEKLY;BYDAY=MO;COUNT=4"}, headers=dave)
    assert utc.status_code == 201 and utc.json()["timezone"] == "UTC"

    window = {"from": "2026-10-01T00:00:00Z", "to": "2026-11-30T00:00:00Z"}
    listed = (await client.get(base, params=window, headers=dave)).json()["items"]
    berlin_starts = [(o["starts_at"], o["ends_at"]) for o in listed if o["title"] == "Berlin"]
    assert berlin_starts == [
        ("2026-10-12T07:00:00Z", "2026-10-12T08:00:00Z"),
        ("2026-10-19T07:00:00Z", "2026-10-19T08:00:00Z"),
        ("2026-10-26T08:00:00Z", "2026-10-26T09:00:00Z"),  # still 09:00 in Berlin, now CET
        ("2026-11-02T08:00:00Z", "2026-11-02T09:00:00Z"),
    ]
    assert [o["starts_at"][11:16] for o in listed if o["title"] == "UTC"] == ["07:00"] * 4

    # Cancelling names the occurrence by its instant; the pre-DST instant is not one any more.
    url = f"{base}/{berlin.json()['id']}/cancellations"
    assert (await client.post(url, json={"occurrence_start": "2026-10-26T07:00:00Z"}, headers=dave)).status_code == 422
    cancelled = await client.post(url, json={"occurrence_start": "2026-10-26T09:00:00+01:00"}, headers=dave)
    assert cancelled.status_code == 200, cancelled.text
    listed = (await client.get(base, params=window, headers=dave)).json()["items"]
    assert [o["starts_at"][:10] for o in listed if o["title"] == "Berlin"] == ["2026-10-12", "2026-10-19", "2026-11-02"]

    # Moving the UTC event into Berlin time shifts its occurrences after the change; an unknown zone is a 422.
    moved = await client.patch(f"{base}/{utc.json()['id']}", json={"timezone": "Europe/Berlin"}, headers=dave)
    assert moved.status_code == 200 and moved.json()["timezone"] == "Europe/Berlin"
    listed = (await client.get(base, params=window, headers=dave)).json()["items"]
    assert [o["starts_at"][11:16] for o in listed if o["title"] == "UTC"] == ["07:00", "07:00", "08:00", "08:00"]
    for zone in ("Mars/Olympus", "", "../etc/passwd"):
        refused = await client.post(base, json={**slot, "title": "X", "timezone": zone}, headers=dave)
        assert refused.status_code == 422, (zone, refused.text)
        assert refused.json()["errors"][0]["location"] == ["body", "timezone"]
