"""Reminder rules fire once per person and period, by email (through a real worker and SMTP sink) and
in-app; a person who logged time is left alone; a long-running timer is noticed."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from backend.reminders import service
from tests.conftest import DEMO_IDS, Tokens, add_member, create_org
from tests.smtp_sink import SmtpSink

ALWAYS = {"local_time": "00:00", "weekdays": [1, 2, 3, 4, 5, 6, 7]}


async def _email(owner_db: Any, name: str) -> str:
    return str(await owner_db.fetchval("SELECT email FROM users WHERE id = $1", DEMO_IDS[name]))


def _from(sink: SmtpSink, address: str, org_name: str) -> list[Any]:
    return [m for m in sink.messages_to(address) if org_name in m.subject]


async def _notifications(client: httpx.AsyncClient, headers: dict[str, str], org_id: str) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/me/notifications", params={"limit": 100}, headers=headers)
    assert response.status_code == 200, response.text
    return [n for n in response.json()["items"] if n["org_id"] == org_id]


async def test_no_time_logged_fires_once_by_email_and_in_app_and_spares_who_logged(
    app: FastAPI,
    client: httpx.AsyncClient,
    tokens: Tokens,
    owner_db: Any,
    sink: SmtpSink,
    reminder_worker: subprocess.Popen[bytes],
) -> None:
    alice, bob = await tokens.headers("alice"), await tokens.headers("bob")
    name = f"Reminded {uuid.uuid4().hex[:6]}"
    org = await create_org(client, alice, name)
    base = f"/api/v1/orgs/{org['id']}"
    await add_member(owner_db, org["id"], DEMO_IDS["bob"], "member")
    project = await client.post(f"{base}/projects", json={"name": "Logged"}, headers=alice)
    assert project.status_code == 201, project.text
    now = datetime.now(UTC)
    logged = await client.post(
        f"{base}/time-entries",
        json={
            "project_id": project.json()["id"],
            "start_at": (now - timedelta(minutes=2)).isoformat(),
            "end_at": (now - timedelta(minutes=1)).isoformat(),
        },
        headers=alice,
    )
    assert logged.status_code == 201, logged.text

    rule = await client.post(
        f"{base}/reminder-rules", json={"kind": "no_time_logged", "name": "Log your day", **ALWAYS}, headers=alice
    )
    assert rule.status_code == 201, rule.text

    # The worker's scheduler evaluates every second: bob (nothing logged today) gets mail. The bound is
    # generous for a cold worker on a busy 2-core machine, its queue shared with earlier tests' jobs.
    bob_email, alice_email = await _email(owner_db, "bob"), await _email(owner_db, "alice")
    for _ in range(900):
        if _from(sink, bob_email, name):
            break
        await asyncio.sleep(0.1)
    mails = _from(sink, bob_email, name)
    assert len(mails) == 1, [m.subject for m in sink.messages]
    text = mails[0].bodies()[0]
    assert "not logged any time today" in text
    assert f"https://worktime.example.test/orgs/{org['id']}/timer" in text
    assert "<a href=" in mails[0].bodies()[1]

    # Several more ticks, and one evaluation right here: nothing is sent twice.
    assert await service.evaluate_org(app.state.db, uuid.UUID(org["id"])) == 0
    await asyncio.sleep(3)
    assert len(_from(sink, bob_email, name)) == 1
    assert _from(sink, alice_email, name) == []  # alice logged time today

    # In-app: bob's notification, unread, then read.
    [note] = await _notifications(client, bob, org["id"])
    assert note["kind"] == "no_time_logged" and note["read"] is False
    assert await _notifications(client, alice, org["id"]) == []
    read = await client.post(f"/api/v1/me/notifications/{note['id']}/read", headers=bob)
    assert read.status_code == 200 and read.json()["read"] is True
    unread = await client.get("/api/v1/me/notifications", params={"unread": "true"}, headers=bob)
    assert note["id"] not in {n["id"] for n in unread.json()["items"]}
    # Someone else's notification is not theirs to read.
    assert (await client.post(f"/api/v1/me/notifications/{note['id']}/read", headers=alice)).status_code == 404


async def test_timer_running_fires_once_per_timer(
    app: FastAPI, client: httpx.AsyncClient, tokens: Tokens, owner_db: Any, sink: SmtpSink
) -> None:
    alice = await tokens.headers("alice")
    name = f"Timer {uuid.uuid4().hex[:6]}"
    org = await create_org(client, alice, name)
    base = f"/api/v1/orgs/{org['id']}"
    project = await client.post(f"{base}/projects", json={"name": "Timed"}, headers=alice)
    started = await client.post(f"{base}/timer", json={"project_id": project.json()["id"]}, headers=alice)
    assert started.status_code in (200, 201), started.text
    rule = await client.post(f"{base}/reminder-rules", json={"kind": "timer_running", "hours": 8}, headers=alice)
    assert rule.status_code == 201, rule.text

    org_id = uuid.UUID(org["id"])
    assert await service.evaluate_org(app.state.db, org_id) == 0  # running for seconds, not 8 hours
    later = datetime.now(UTC) + timedelta(hours=9)
    assert await service.evaluate_org(app.state.db, org_id, now=later) == 1
    assert await service.evaluate_org(app.state.db, org_id, now=later + timedelta(hours=1)) == 0
    [note] = await _notifications(client, alice, org["id"])
    assert note["kind"] == "timer_running" and "running for 9 hours" in note["body"]


async def test_rules_are_validated_and_audited(client: httpx.AsyncClient, tokens: Tokens, owner_db: Any) -> None:
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, "Rules")
    base = f"/api/v1/orgs/{org['id']}/reminder-rules"
    assert (await client.post(base, json={"kind": "timer_running"}, headers=alice)).status_code == 422
    assert (await client.post(base, json={"kind": "no_time_logged", "weekdays": [8]}, headers=alice)).status_code == 422
    made = await client.post(base, json={"kind": "timesheet_not_submitted", "local_time": "09:30"}, headers=alice)
    assert made.status_code == 201 and made.json()["weekdays"] == [1, 2, 3, 4, 5]
    rule_id = made.json()["id"]
    changed = await client.patch(f"{base}/{rule_id}", json={"enabled": False}, headers=alice)
    assert changed.status_code == 200 and changed.json()["enabled"] is False
    assert (await client.delete(f"{base}/{rule_id}", headers=alice)).status_code == 204
    actions = await owner_db.fetch(
        "SELECT action FROM audit_events WHERE org_id = $1 AND resource_type = 'reminder_rule' ORDER BY id",
        uuid.UUID(org["id"]),
    )
    assert [a["action"] for a in actions] == [
        "reminder_rule.created",
        "reminder_rule.updated",
        "reminder_rule.deleted",
    ]


async def test_timesheet_reminders_go_to_who_did_not_submit_and_to_approvers(
    app: FastAPI, client: httpx.AsyncClient, tokens: Tokens, owner_db: Any
) -> None:
    alice, bob = await tokens.headers("alice"), await tokens.headers("bob")
    org = await create_org(client, alice, "Sheets")
    base = f"/api/v1/orgs/{org['id']}"
    await add_member(owner_db, org["id"], DEMO_IDS["bob"], "member")
    year, week, _ = (datetime.now(UTC) - timedelta(days=7)).isocalendar()
    submitted = await client.post(f"{base}/timesheets/submit", json={"week": f"{year}-W{week:02d}"}, headers=bob)
    assert submitted.status_code in (200, 201), submitted.text
    for kind in ("timesheet_not_submitted", "approval_waiting"):
        made = await client.post(f"{base}/reminder-rules", json={"kind": kind, **ALWAYS}, headers=alice)
        assert made.status_code == 201, made.text

    # The module's worker (evaluating every second) may get there first: the notifications are what counts.
    await service.evaluate_org(app.state.db, uuid.UUID(org["id"]))
    assert await service.evaluate_org(app.state.db, uuid.UUID(org["id"])) == 0
    kinds = sorted(n["kind"] for n in await _notifications(client, alice, org["id"]))
    assert kinds == ["approval_waiting", "timesheet_not_submitted"]  # alice: her own week, bob's to approve
    assert await _notifications(client, bob, org["id"]) == []  # bob submitted; members approve nothing


async def test_a_rule_is_due_by_each_persons_own_time_zone(
    app: FastAPI, client: httpx.AsyncClient, tokens: Tokens, owner_db: Any
) -> None:
    alice, bob = await tokens.headers("alice"), await tokens.headers("bob")
    org = await create_org(client, alice, "Zones")
    base = f"/api/v1/orgs/{org['id']}"
    await add_member(owner_db, org["id"], DEMO_IDS["bob"], "member")
    zoned = await client.put(
        f"{base}/time-zone", json={"user_id": str(DEMO_IDS["bob"]), "time_zone": "Asia/Tokyo"}, headers=alice
    )
    assert zoned.status_code == 200, zoned.text
    rule = await client.post(
        f"{base}/reminder-rules",
        json={"kind": "no_time_logged", "local_time": "20:00", "weekdays": [1, 2, 3, 4, 5, 6, 7]},
        headers=alice,
    )
    assert rule.status_code == 201, rule.text
    # 12:00 UTC: 21:00 in Tokyo (bob's evening, due), noon for alice (UTC, not yet).
    noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    assert await service.evaluate_org(app.state.db, uuid.UUID(org["id"]), now=noon) == 1
    [note] = await _notifications(client, bob, org["id"])
    assert note["kind"] == "no_time_logged"
    assert await _notifications(client, alice, org["id"]) == []
    # At 20:00 UTC alice's evening has come; in Tokyo it is 05:00 of the next day, not yet due for bob.
    evening = noon + timedelta(hours=8)
    assert await service.evaluate_org(app.state.db, uuid.UUID(org["id"]), now=evening) == 1
    assert len(await _notifications(client, alice, org["id"])) == 1
