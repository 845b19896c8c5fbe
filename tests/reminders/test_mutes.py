"""A person's own mutes: a muted kind reaches them neither by mail nor in the app, an unmuted kind does,
and unmuting brings the next due reminder back. Mutes are per person and organization, validated,
audited, and nobody reads or sets another's."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from backend.reminders import service
from tests.conftest import ACME, DEMO_IDS, GLOBEX, Tokens, add_member, create_org
from tests.smtp_sink import SmtpSink

ALWAYS = {"local_time": "00:00", "weekdays": [1, 2, 3, 4, 5, 6, 7]}


async def _email(owner_db: Any, name: str) -> str:
    return str(await owner_db.fetchval("SELECT email FROM users WHERE id = $1", DEMO_IDS[name]))


def _mails(sink: SmtpSink, address: str, org_name: str, title: str) -> list[Any]:
    return [m for m in sink.messages_to(address) if org_name in m.subject and title in m.subject]


async def _kinds(client: httpx.AsyncClient, headers: dict[str, str], org_id: str) -> list[str]:
    response = await client.get("/api/v1/me/notifications", params={"limit": 100}, headers=headers)
    assert response.status_code == 200, response.text
    return sorted(n["kind"] for n in response.json()["items"] if n["org_id"] == org_id)


async def test_a_muted_kind_is_not_sent_and_an_unmuted_one_is(
    app: FastAPI,
    client: httpx.AsyncClient,
    tokens: Tokens,
    owner_db: Any,
    sink: SmtpSink,
    reminder_worker: subprocess.Popen[bytes],
) -> None:
    alice, bob = await tokens.headers("alice"), await tokens.headers("bob")
    name = f"Muted {uuid.uuid4().hex[:6]}"
    org = await create_org(client, alice, name)
    base = f"/api/v1/orgs/{org['id']}"
    await add_member(owner_db, org["id"], DEMO_IDS["bob"], "member")

    # bob mutes "no time logged" here, before any rule exists; alice mutes nothing.
    muted = await client.put(f"{base}/me/reminder-mutes", json={"muted": ["no_time_logged"]}, headers=bob)
    assert muted.status_code == 200, muted.text
    assert muted.json()["muted"] == ["no_time_logged"]
    assert "task_reminder" in muted.json()["kinds"]
    assert (await client.get(f"{base}/me/reminder-mutes", headers=alice)).json()["muted"] == []

    for kind in ("no_time_logged", "timesheet_not_submitted"):
        made = await client.post(f"{base}/reminder-rules", json={"kind": kind, **ALWAYS}, headers=alice)
        assert made.status_code == 201, made.text

    # The real worker (evaluating every second) mails bob last week's timesheet reminder, not the muted one.
    bob_email, alice_email = await _email(owner_db, "bob"), await _email(owner_db, "alice")
    for _ in range(900):
        if _mails(sink, bob_email, name, "timesheet") and len(_mails(sink, alice_email, name, "")) >= 2:
            break
        await asyncio.sleep(0.1)
    assert len(_mails(sink, bob_email, name, "timesheet")) == 1, [m.subject for m in sink.messages]
    # The mail says where to mute it: the organization's reminders page.
    [mail] = _mails(sink, bob_email, name, "timesheet")
    assert f"https://worktime.example.test/orgs/{org['id']}/reminders" in mail.bodies()[0]
    await asyncio.sleep(2)  # a few more ticks
    assert _mails(sink, bob_email, name, "No time logged") == []
    assert len(_mails(sink, alice_email, name, "No time logged")) == 1  # not muted by alice
    assert await _kinds(client, bob, org["id"]) == ["timesheet_not_submitted"]
    assert await _kinds(client, alice, org["id"]) == ["no_time_logged", "timesheet_not_submitted"]

    # Unmuted, the reminder still due today comes on the next evaluation, once.
    unmuted = await client.put(f"{base}/me/reminder-mutes", json={"muted": []}, headers=bob)
    assert unmuted.status_code == 200 and unmuted.json()["muted"] == []
    for _ in range(300):
        if _mails(sink, bob_email, name, "No time logged"):
            break
        await asyncio.sleep(0.1)
    assert len(_mails(sink, bob_email, name, "No time logged")) == 1
    assert await _kinds(client, bob, org["id"]) == ["no_time_logged", "timesheet_not_submitted"]


async def test_a_muted_item_reminder_is_not_sent(
    app: FastAPI, client: httpx.AsyncClient, tokens: Tokens, owner_db: Any
) -> None:
    alice, bob = await tokens.headers("alice"), await tokens.headers("bob")
    org = await create_org(client, alice, "Muted events")
    base = f"/api/v1/orgs/{org['id']}"
    await add_member(owner_db, org["id"], DEMO_IDS["bob"], "member")
    muted = await client.put(f"{base}/me/reminder-mutes", json={"muted": ["event_reminder"]}, headers=bob)
    assert muted.status_code == 200, muted.text
    now = datetime.now(UTC)
    event = await client.post(
        f"{base}/events",
        json={
            "title": "Planning",
            "starts_at": (now + timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=2)).isoformat(),
            "reminder_at": (now - timedelta(minutes=1)).isoformat(),
            "attendee_ids": [str(DEMO_IDS["alice"]), str(DEMO_IDS["bob"])],
        },
        headers=alice,
    )
    assert event.status_code == 201, event.text
    # (The module's worker may evaluate too: what counts is who ends up with a notification.)
    await service.evaluate_org(app.state.db, uuid.UUID(org["id"]))
    assert await _kinds(client, alice, org["id"]) == ["event_reminder"]
    assert await _kinds(client, bob, org["id"]) == []


async def test_mutes_are_validated_personal_and_audited(
    client: httpx.AsyncClient, tokens: Tokens, owner_db: Any
) -> None:
    alice, bob, heidi = await tokens.headers("alice"), await tokens.headers("bob"), await tokens.headers("heidi")
    org = await create_org(client, alice, "Mute rules")
    url = f"/api/v1/orgs/{org['id']}/me/reminder-mutes"
    await add_member(owner_db, org["id"], DEMO_IDS["bob"], "auditor")

    bad = await client.put(url, json={"muted": ["coffee_break"]}, headers=alice)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert (await client.put(url, json={"muted": "no_time_logged"}, headers=alice)).status_code == 422
    someone_else = {"muted": [], "user_id": str(DEMO_IDS["bob"])}
    assert (await client.put(url, json=someone_else, headers=alice)).status_code == 422
    assert (await client.get(url, headers=alice)).json()["muted"] == []  # nothing half-written

    # Duplicates collapse; the answer is sorted; an auditor mutes for themselves too.
    both = await client.put(url, json={"muted": ["timer_running", "approval_waiting", "timer_running"]}, headers=alice)
    assert both.status_code == 200 and both.json()["muted"] == ["approval_waiting", "timer_running"]
    mine = await client.put(url, json={"muted": ["timer_running"]}, headers=bob)
    assert mine.status_code == 200, mine.text
    # Each person's own set: bob's PUT changed nothing of alice's.
    assert (await client.get(url, headers=alice)).json()["muted"] == ["approval_waiting", "timer_running"]
    assert (await client.get(url, headers=bob)).json()["muted"] == ["timer_running"]
    # A non-member learns nothing.
    assert (await client.get(url, headers=heidi)).status_code == 404
    assert (await client.put(url, json={"muted": []}, headers=heidi)).status_code == 404

    # The same set again is no change and writes no audit event.
    assert (await client.put(url, json={"muted": ["timer_running"]}, headers=bob)).status_code == 200
    events = await owner_db.fetch(
        "SELECT actor_user_id, changes::text AS changes FROM audit_events"
        " WHERE org_id = $1 AND action = 'reminder_mute.updated' ORDER BY id",
        uuid.UUID(org["id"]),
    )
    assert [e["actor_user_id"] for e in events] == [DEMO_IDS["alice"], DEMO_IDS["bob"]]
    assert "approval_waiting" in events[0]["changes"] and "timer_running" in events[1]["changes"]


async def test_the_seeded_demo_reminds_globex_people_and_the_auditor_has_a_mute(
    app: FastAPI, client: httpx.AsyncClient, tokens: Tokens, demo_orgs: dict[str, uuid.UUID]
) -> None:
    """What `make run` shows: globex's enabled demo rule reaches heidi (nothing logged in globex) on the
    first evaluation; acme's auditor starts with running-timer reminders muted."""
    globex = demo_orgs[GLOBEX]
    await service.evaluate_org(app.state.db, globex)  # (a worker may have sent it already: same result)
    heidi = await tokens.headers("heidi")
    response = await client.get("/api/v1/me/notifications", params={"limit": 100}, headers=heidi)
    mine = [n for n in response.json()["items"] if n["org_id"] == str(globex)]
    day = datetime.now(UTC).date().isoformat()
    today = [n for n in mine if n["kind"] == "no_time_logged" and n["created_at"][:10] == day]
    assert len(today) == 1, mine
    assert today[0]["title"] == "No time logged today" and today[0]["link"].endswith(f"/orgs/{globex}/timer")
    assert await service.evaluate_org(app.state.db, globex) == 0  # once per person and day
    erin = await client.get(f"/api/v1/orgs/{demo_orgs[ACME]}/me/reminder-mutes", headers=await tokens.headers("erin"))
    assert erin.json()["muted"] == ["timer_running"]
