"""Scheduled exports: a due schedule starts one export per period (the real worker's tick), its recipients
get one mail each with a long-lived mailed link that downloads the file and the manifest's summary; a
schedule not yet due starts nothing; schedules are validated (422 problem+json) and permissioned (403)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import FastAPI

from backend.exports import signing
from backend.reminders import schedules
from backend.reminders.models import ExportSchedule
from tests.conftest import DEMO_IDS, Tokens, add_member, create_org
from tests.smtp_sink import SmtpSink

LINK = re.compile(r"https://worktime\.example\.test(/api/v1/\S+)")


async def _email(owner_db: Any, name: str) -> str:
    return str(await owner_db.fetchval("SELECT email FROM users WHERE id = $1", DEMO_IDS[name]))


def _mails(sink: SmtpSink, address: str, org_name: str) -> list[Any]:
    return [m for m in sink.messages_to(address) if org_name in m.subject]


async def _exports(client: httpx.AsyncClient, headers: dict[str, str], base: str) -> list[dict[str, Any]]:
    listed = await client.get(f"{base}/exports", params={"limit": 100}, headers=headers)
    assert listed.status_code == 200, listed.text
    return list(listed.json()["items"])


def _schedule(**changes: Any) -> dict[str, Any]:
    return {
        "name": "Monthly timesheet",
        "cadence": "monthly",
        "day_of_month": 1,
        "local_time": "08:00",
        "time_zone": "Europe/Berlin",
        "period": "previous_month",
        "format": "csv",
        "recipients": [str(DEMO_IDS["alice"])],
        **changes,
    }


async def test_a_schedule_runs_once_from_its_time_and_not_before(
    app: FastAPI, client: httpx.AsyncClient, tokens: Tokens
) -> None:
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, f"Due {uuid.uuid4().hex[:6]}")
    base = f"/api/v1/orgs/{org['id']}"
    made = await client.post(f"{base}/export-schedules", json=_schedule(day_of_month=28), headers=alice)
    assert made.status_code == 201, made.text
    org_id = uuid.UUID(org["id"])
    before = datetime(2030, 3, 28, 6, 59, tzinfo=UTC)  # 07:59 in Berlin: February's run is not due yet
    assert await schedules.start_due_org(app.state.db, org_id, now=before) == 0
    assert await _exports(client, alice, base) == []
    due = datetime(2030, 3, 28, 7, 1, tzinfo=UTC)  # 08:01 in Berlin
    assert await schedules.start_due_org(app.state.db, org_id, now=due) == 1
    assert await schedules.start_due_org(app.state.db, org_id, now=due + timedelta(hours=3)) == 0
    [export] = await _exports(client, alice, base)
    assert (export["period_start"], export["period_end"]) == ("2030-02-01", "2030-02-28")
    assert (export["kind"], export["format"], export["time_zone"]) == ("timesheet", "csv", "Europe/Berlin")
    # A day after its time, a missed run is not made up (the next one is next month's).
    assert await schedules.start_due_org(app.state.db, org_id, now=datetime(2030, 4, 29, 9, tzinfo=UTC)) == 0
    assert len(await _exports(client, alice, base)) == 1


async def test_a_due_schedule_makes_one_export_and_mails_each_recipient_once(
    app: FastAPI,
    client: httpx.AsyncClient,
    tokens: Tokens,
    owner_db: Any,
    sink: SmtpSink,
    reminder_worker: subprocess.Popen[bytes],
    tmp_path: Path,
) -> None:
    alice = await tokens.headers("alice")
    name = f"Scheduled {uuid.uuid4().hex[:6]}"
    org = await create_org(client, alice, name)
    base = f"/api/v1/orgs/{org['id']}"
    await add_member(owner_db, org["id"], DEMO_IDS["erin"], "auditor")
    project = await client.post(f"{base}/projects", json={"name": "Billed"}, headers=alice)
    assert project.status_code == 201, project.text
    now = datetime.now(UTC)
    last_week = now - timedelta(days=now.weekday() + 5)  # the Wednesday of the previous ISO week
    for day in (0, 1):  # Wednesday and Thursday: two rows of the timesheet
        start = (last_week + timedelta(days=day)).replace(hour=9, minute=0, second=0, microsecond=0)
        logged = await client.post(
            f"{base}/time-entries",
            json={
                "project_id": project.json()["id"],
                "start_at": start.isoformat(),
                "end_at": (start + timedelta(hours=2)).isoformat(),
            },
            headers=alice,
        )
        assert logged.status_code == 201, logged.text

    started = now - timedelta(minutes=1)
    recipients = [str(DEMO_IDS["alice"]), str(DEMO_IDS["erin"])]
    weekly = {"cadence": "weekly", "day_of_month": None, "period": "previous_week", "time_zone": "UTC"}
    due = _schedule(
        **weekly, name="Weekly", weekday=started.isoweekday(), local_time=f"{started:%H:%M}", recipients=recipients
    )
    made = await client.post(f"{base}/export-schedules", json=due, headers=alice)
    assert made.status_code == 201, made.text
    later = now + timedelta(hours=2)  # its weekday comes later: its last run is a week old, not due
    not_due = _schedule(**weekly, name="Later", weekday=later.isoweekday(), local_time=f"{later:%H:%M}")
    assert (await client.post(f"{base}/export-schedules", json=not_due, headers=alice)).status_code == 201

    alice_email, erin_email = await _email(owner_db, "alice"), await _email(owner_db, "erin")
    for _ in range(1200):  # the worker ticks every second; then the export job, then the mail
        if _mails(sink, alice_email, name) and _mails(sink, erin_email, name):
            break
        await asyncio.sleep(0.1)
    [alice_mail] = _mails(sink, alice_email, name)
    assert len(_mails(sink, erin_email, name)) == 1

    # More ticks and one run here: nothing starts or is mailed twice.
    assert await schedules.start_due_org(app.state.db, uuid.UUID(org["id"])) == 0
    await asyncio.sleep(3)
    assert len(_mails(sink, alice_email, name)) == 1
    assert len(_mails(sink, erin_email, name)) == 1
    [export] = await _exports(client, alice, base)
    assert export["status"] == "done"
    first = (started - timedelta(days=started.weekday() + 7)).date()
    assert (export["period_start"], export["period_end"]) == (str(first), str(first + timedelta(days=6)))

    manifest = (await client.get(f"{base}/exports/{export['id']}/manifest", headers=alice)).json()
    assert manifest["row_count"] == 2
    plain, html = alice_mail.bodies()
    for fact in (f"rows:                {manifest['row_count']}", export["sha256"], manifest["signature"]["key_id"]):
        assert str(fact) in plain
    assert export["sha256"] in html and "Weekly" in alice_mail.subject

    # The mailed link downloads the file, without a token, for a week; the file verifies against its manifest.
    [path] = LINK.findall(plain)
    query = parse_qs(urlsplit(path).query)
    assert query["user"] == [str(DEMO_IDS["alice"])] and query["via"] == ["mail"]
    assert abs(int(query["expires"][0]) - (time.time() + 7 * 86400)) < 600
    downloaded = await client.get(path)
    assert downloaded.status_code == 200, downloaded.text
    (tmp_path / "file.csv").write_bytes(downloaded.content)
    (tmp_path / "manifest.json").write_bytes(signing.json_bytes(manifest))
    verdict = signing.verify(tmp_path / "file.csv", tmp_path / "manifest.json")
    assert verdict.valid, verdict.problems
    # The same signature is no interactive link (those live 15 minutes), and it is erin's link in erin's mail.
    interactive = path.replace("&via=mail", "")
    assert (await client.get(interactive)).status_code == 401
    [erin_path] = LINK.findall(_mails(sink, erin_email, name)[0].bodies()[0])
    assert parse_qs(urlsplit(erin_path).query)["user"] == [str(DEMO_IDS["erin"])]
    assert (await client.get(erin_path)).status_code == 200


async def test_schedules_are_validated_as_problem_json(
    client: httpx.AsyncClient, tokens: Tokens, owner_db: Any
) -> None:
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, f"Checked {uuid.uuid4().hex[:6]}")
    base = f"/api/v1/orgs/{org['id']}"
    await add_member(owner_db, org["id"], DEMO_IDS["bob"], "member")
    stranger = str(DEMO_IDS["heidi"])  # a real person, not a member here
    for body, says in (
        (_schedule(recipients=[stranger]), "not active members"),
        (_schedule(recipients=[str(uuid.uuid4())]), "not active members"),
        (_schedule(recipients=[str(DEMO_IDS["bob"])]), "may not read the organization's exports"),
        (_schedule(day_of_month=31), "day_of_month"),
        (_schedule(local_time="25:00"), "local_time"),
        (_schedule(local_time="08:00+02:00"), "local_time"),
        (_schedule(cadence="weekly"), "weekday"),
        (_schedule(time_zone="Mars/Olympus"), "time zone"),
        (_schedule(recipients=[]), "recipients"),
        (_schedule(format="docx"), "format"),
    ):
        refused = await client.post(f"{base}/export-schedules", json=body, headers=alice)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert says in refused.text, (says, refused.text)

    made = await client.post(f"{base}/export-schedules", json=_schedule(), headers=alice)
    assert made.status_code == 201, made.text
    one = f"{base}/export-schedules/{made.json()['id']}"
    for change in ({"day_of_month": 31}, {"recipients": [stranger]}, {"weekday": 3}, {"local_time": "8 o'clock"}):
        refused = await client.patch(one, json=change, headers=alice)
        assert refused.status_code == 422, (change, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
    # Switching the cadence takes the new day; the old one goes.
    switched = await client.patch(one, json={"cadence": "weekly", "weekday": 5}, headers=alice)
    assert switched.status_code == 200, switched.text
    assert (switched.json()["weekday"], switched.json()["day_of_month"]) == (5, None)


async def test_schedules_are_audited_and_refused_without_the_permission(
    client: httpx.AsyncClient, tokens: Tokens, owner_db: Any
) -> None:
    alice, bob, erin = await tokens.headers("alice"), await tokens.headers("bob"), await tokens.headers("erin")
    org = await create_org(client, alice, f"Guarded {uuid.uuid4().hex[:6]}")
    base = f"/api/v1/orgs/{org['id']}"
    await add_member(owner_db, org["id"], DEMO_IDS["bob"], "manager")
    await add_member(owner_db, org["id"], DEMO_IDS["erin"], "auditor")
    # The auditor schedules one (and may be its recipient); a manager may neither list nor schedule.
    made = await client.post(
        f"{base}/export-schedules", json=_schedule(recipients=[str(DEMO_IDS["erin"])]), headers=erin
    )
    assert made.status_code == 201, made.text
    one = f"{base}/export-schedules/{made.json()['id']}"
    for method, url, body in (
        ("POST", f"{base}/export-schedules", _schedule()),
        ("GET", f"{base}/export-schedules", None),
        ("GET", one, None),
        ("PATCH", one, {"enabled": False}),
        ("DELETE", one, None),
    ):
        refused = await client.request(method, url, json=body, headers=bob)
        assert refused.status_code == 403, (method, url, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
    listed = await client.get(f"{base}/export-schedules", headers=alice)
    assert [s["id"] for s in listed.json()["items"]] == [made.json()["id"]]
    changed = await client.patch(one, json={"enabled": False, "name": "Paused"}, headers=alice)
    assert changed.status_code == 200 and changed.json()["enabled"] is False
    assert (await client.delete(one, headers=alice)).status_code == 204
    assert (await client.get(one, headers=alice)).status_code == 404
    trail = await client.get(f"{base}/audit-events", params={"action": "export_schedule."}, headers=alice)
    assert trail.status_code == 200, trail.text
    actions = sorted(event["action"] for event in trail.json()["items"])
    assert actions == ["export_schedule.created", "export_schedule.deleted", "export_schedule.updated"]


def test_occurrences_and_periods_across_year_and_week_boundaries() -> None:
    monthly = ExportSchedule(
        org_id=uuid.uuid4(), name="m", cadence="monthly", day_of_month=1, local_time=dt_time(8, 0),
        time_zone="Europe/Berlin", period="previous_month", kind="timesheet", format="csv",
        recipients=[uuid.uuid4()], created_by=uuid.uuid4(),
    )  # fmt: skip
    # 1 January 08:30 in Berlin (07:30 UTC): December of the year before.
    assert schedules.due_period(monthly, datetime(2031, 1, 1, 7, 30, tzinfo=UTC)) == (
        date(2030, 12, 1),
        date(2030, 12, 31),
    )
    # 31 December 23:30 UTC is already 1 January 00:30 in Berlin: before 08:00, nothing is due.
    assert schedules.due_period(monthly, datetime(2030, 12, 31, 23, 30, tzinfo=UTC)) is None
    weekly = ExportSchedule(
        org_id=uuid.uuid4(), name="w", cadence="weekly", weekday=1, local_time=dt_time(6, 0), time_zone="UTC",
        period="previous_week", kind="timesheet", format="csv", recipients=[uuid.uuid4()], created_by=uuid.uuid4(),
    )  # fmt: skip
    # Monday 2030-12-30 06:05: the week of 23-29 December; a day later it is no longer due.
    assert schedules.due_period(weekly, datetime(2030, 12, 30, 6, 5, tzinfo=UTC)) == (
        date(2030, 12, 23),
        date(2030, 12, 29),
    )
    assert schedules.due_period(weekly, datetime(2030, 12, 31, 6, 6, tzinfo=UTC)) is None
    assert schedules.latest_occurrence(weekly, datetime(2030, 12, 30, 5, 59, tzinfo=UTC)).date() == date(2030, 12, 23)
