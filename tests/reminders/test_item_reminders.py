"""A task's and an event's own reminder_at: delivered once (mail through the real worker and SMTP sink,
and /me/notifications) to the task's assignees and the event's attendees; not before its time; and
validated (a time zone is required, an event's reminder comes before its start)."""

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


async def _email(owner_db: Any, name: str) -> str:
    return str(await owner_db.fetchval("SELECT email FROM users WHERE id = $1", DEMO_IDS[name]))


def _mails(sink: SmtpSink, address: str, org_name: str) -> list[Any]:
    return [m for m in sink.messages_to(address) if org_name in m.subject]


async def _notifications(client: httpx.AsyncClient, headers: dict[str, str], org_id: str) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/me/notifications", params={"limit": 100}, headers=headers)
    assert response.status_code == 200, response.text
    return [n for n in response.json()["items"] if n["org_id"] == org_id]


async def _project(client: httpx.AsyncClient, headers: dict[str, str], base: str) -> str:
    made = await client.post(f"{base}/projects", json={"name": "Reminded"}, headers=headers)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def test_task_and_event_reminders_are_delivered_once_by_mail_and_in_app(
    app: FastAPI,
    client: httpx.AsyncClient,
    tokens: Tokens,
    owner_db: Any,
    sink: SmtpSink,
    reminder_worker: subprocess.Popen[bytes],
) -> None:
    alice, bob = await tokens.headers("alice"), await tokens.headers("bob")
    name = f"Items {uuid.uuid4().hex[:6]}"
    org = await create_org(client, alice, name)
    base = f"/api/v1/orgs/{org['id']}"
    await add_member(owner_db, org["id"], DEMO_IDS["bob"], "member")
    project = await _project(client, alice, base)
    now = datetime.now(UTC)
    task = await client.post(
        f"{base}/projects/{project}/tasks",
        json={
            "title": "Send the invoice",
            "due_date": (now + timedelta(days=1)).date().isoformat(),
            "reminder_at": (now - timedelta(minutes=1)).isoformat(),
            "assignee_ids": [str(DEMO_IDS["alice"])],
        },
        headers=alice,
    )
    assert task.status_code == 201, task.text
    assert task.json()["reminder_at"] is not None
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

    alice_email, bob_email = await _email(owner_db, "alice"), await _email(owner_db, "bob")
    for _ in range(900):  # the worker's scheduler evaluates every second (a cold worker: generous bound)
        if len(_mails(sink, alice_email, name)) >= 2 and _mails(sink, bob_email, name):
            break
        await asyncio.sleep(0.1)
    subjects = sorted(m.subject for m in _mails(sink, alice_email, name))
    assert subjects == [f"Reminder: Planning · {name}", f"Reminder: Send the invoice · {name}"]
    [bob_mail] = _mails(sink, bob_email, name)
    assert "Planning" in bob_mail.subject  # bob attends the event; the task is not his
    task_mail = next(m for m in _mails(sink, alice_email, name) if "invoice" in m.subject)
    link = f"https://worktime.example.test/orgs/{org['id']}/projects/{project}/tasks/{task.json()['id']}"
    assert link in task_mail.bodies()[0]
    assert f'href="{link}"' in task_mail.bodies()[1]

    # More ticks and one evaluation here: nothing is delivered twice.
    assert await service.evaluate_org(app.state.db, uuid.UUID(org["id"])) == 0
    await asyncio.sleep(3)
    assert len(_mails(sink, alice_email, name)) == 2
    assert len(_mails(sink, bob_email, name)) == 1

    kinds = sorted(n["kind"] for n in await _notifications(client, alice, org["id"]))
    assert kinds == ["event_reminder", "task_reminder"]
    [bob_note] = await _notifications(client, bob, org["id"])
    assert bob_note["kind"] == "event_reminder" and "Planning" in bob_note["body"]

    # A new reminder time is a new reminder: moved to another (past) minute, it is delivered again.
    moved = await client.patch(
        f"{base}/projects/{project}/tasks/{task.json()['id']}",
        json={"reminder_at": (now - timedelta(seconds=30)).isoformat()},
        headers=alice,
    )
    assert moved.status_code == 200, moved.text
    await service.evaluate_org(app.state.db, uuid.UUID(org["id"]))  # or the worker's tick got there first
    assert [n["kind"] for n in await _notifications(client, alice, org["id"])].count("task_reminder") == 2
    for _ in range(300):
        if len(_mails(sink, alice_email, name)) == 3:
            break
        await asyncio.sleep(0.1)
    assert len(_mails(sink, alice_email, name)) == 3


async def test_a_reminder_is_not_delivered_before_its_time(
    app: FastAPI, client: httpx.AsyncClient, tokens: Tokens
) -> None:
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, f"Later {uuid.uuid4().hex[:6]}")
    base = f"/api/v1/orgs/{org['id']}"
    project = await _project(client, alice, base)
    at = datetime.now(UTC) + timedelta(days=2)
    made = await client.post(
        f"{base}/projects/{project}/tasks",
        json={"title": "Later", "reminder_at": at.isoformat(), "assignee_ids": [str(DEMO_IDS["alice"])]},
        headers=alice,
    )
    assert made.status_code == 201, made.text
    org_id = uuid.UUID(org["id"])
    assert await service.evaluate_org(app.state.db, org_id) == 0
    assert await service.evaluate_org(app.state.db, org_id, now=at - timedelta(minutes=1)) == 0
    assert await _notifications(client, alice, org["id"]) == []
    assert await service.evaluate_org(app.state.db, org_id, now=at + timedelta(minutes=1)) == 1
    assert await service.evaluate_org(app.state.db, org_id, now=at + timedelta(minutes=2)) == 0
    # A task done by then is not reminded of.
    alice_id = str(DEMO_IDS["alice"])
    done = await client.post(
        f"{base}/projects/{project}/tasks",
        json={"title": "Done", "status": "done", "reminder_at": at.isoformat(), "assignee_ids": [alice_id]},
        headers=alice,
    )
    assert done.status_code == 201, done.text
    assert await service.evaluate_org(app.state.db, org_id, now=at + timedelta(minutes=3)) == 0


async def test_reminder_times_are_validated_as_problem_json(client: httpx.AsyncClient, tokens: Tokens) -> None:
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, f"Checked {uuid.uuid4().hex[:6]}")
    base = f"/api/v1/orgs/{org['id']}"
    project = await _project(client, alice, base)
    naive = "2030-01-01T09:00:00"
    for url, body in (
        (f"{base}/projects/{project}/tasks", {"title": "Naive", "reminder_at": naive}),
        (
            f"{base}/events",
            {"title": "Naive", "starts_at": "2030-01-02T09:00:00Z", "ends_at": "2030-01-02T10:00:00Z",
             "reminder_at": naive},
        ),
    ):  # fmt: skip
        refused = await client.post(url, json=body, headers=alice)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "reminder_at" in refused.text

    start = {"title": "Standup", "starts_at": "2030-01-02T09:00:00Z", "ends_at": "2030-01-02T09:15:00Z"}
    late = await client.post(f"{base}/events", json={**start, "reminder_at": "2030-01-02T09:00:00Z"}, headers=alice)
    assert late.status_code == 422, late.text
    assert late.headers["content-type"].startswith("application/problem+json")
    assert "before the event starts" in late.json()["detail"]
    early = {**start, "reminder_at": "2030-01-02T08:50:00+00:00"}
    made = await client.post(f"{base}/events", json=early, headers=alice)
    assert made.status_code == 201, made.text
    # Moving the start before the reminder is refused too.
    moved = await client.patch(
        f"{base}/events/{made.json()['id']}",
        json={"starts_at": "2030-01-02T08:45:00Z", "ends_at": "2030-01-02T09:00:00Z"},
        headers=alice,
    )
    assert moved.status_code == 422, moved.text
    assert moved.headers["content-type"].startswith("application/problem+json")
