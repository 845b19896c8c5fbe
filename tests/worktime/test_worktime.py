"""Working time against the real stack: contracts, holiday calendars, absences, the overtime balance
(per day, over a contract change, a holiday, a half-day and a full absence, a DST change), who may see
and change what, tenant isolation and the audit trail."""

from __future__ import annotations

from typing import Any

from tests.conftest import DEMO_IDS, create_org
from tests.tracking.conftest import Team

FULL_WEEK = [480, 480, 480, 480, 480, 0, 0]
HALF_WEEK = [240, 240, 240, 240, 240, 0, 0]


async def _contract(team: Team, who: str, valid_from: str, minutes: list[int], **extra: Any) -> dict[str, Any]:
    made = await team.call(
        "bob",
        "POST",
        "/worktime/contracts",
        json={"user_id": str(DEMO_IDS[who]), "valid_from": valid_from, "weekday_minutes": minutes, **extra},
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


async def _absent(team: Team, who: str, body: dict[str, Any]) -> Any:
    return await team.call(who, "POST", "/worktime/absences", json=body)


async def test_contracts_are_validated_and_only_admins_keep_them(team: Team) -> None:
    dave = str(DEMO_IDS["dave"])
    made = await _contract(team, "dave", "2026-11-02", FULL_WEEK)
    assert made["weekly_minutes"] == 2400 and made["calendar_id"] is None
    for bad in ([480] * 6, [480, 480, 480, 480, 1441, 0, 0], [-1, 0, 0, 0, 0, 0, 0]):
        refused = await team.call(
            "bob", "POST", "/worktime/contracts",
            json={"user_id": dave, "valid_from": "2026-12-01", "weekday_minutes": bad},
        )  # fmt: skip
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    unknown = await team.call(
        "bob", "POST", "/worktime/contracts",
        json={"user_id": dave, "valid_from": "2026-12-01", "weekday_minutes": FULL_WEEK,
              "calendar_id": "00000000-0000-4000-8000-000000000000"},
    )  # fmt: skip
    assert unknown.status_code == 422 and unknown.json()["field"] == "calendar_id"
    twice = await team.call(
        "bob", "POST", "/worktime/contracts",
        json={"user_id": dave, "valid_from": "2026-11-02", "weekday_minutes": HALF_WEEK},
    )  # fmt: skip
    assert twice.status_code == 409
    for who in ("dave", "carol", "erin"):
        denied = await team.call(
            who, "POST", "/worktime/contracts",
            json={"user_id": dave, "valid_from": "2026-12-07", "weekday_minutes": FULL_WEEK},
        )  # fmt: skip
        assert denied.status_code == 403, who
        patched = await team.call(
            who, "PATCH", f"/worktime/contracts/{made['id']}", json={"weekday_minutes": HALF_WEEK}
        )
        assert patched.status_code == 403, who
    changed = await team.call("bob", "PATCH", f"/worktime/contracts/{made['id']}", json={"weekday_minutes": HALF_WEEK})
    assert changed.status_code == 200 and changed.json()["weekly_minutes"] == 1200
    # Dave sees his own contract; everyone's is for admins and the auditor.
    own = (await team.call("dave", "GET", "/worktime/contracts")).json()
    assert [c["id"] for c in own["items"]] == [made["id"]]
    assert (
        await team.call("dave", "GET", "/worktime/contracts", params={"user_id": str(DEMO_IDS["bob"])})
    ).status_code == 403
    assert (await team.call("erin", "GET", "/worktime/contracts")).json()["total"] == 1


async def test_the_balance_over_a_contract_change_a_holiday_and_absences(team: Team, owner_db: Any) -> None:
    calendar = (await team.call("bob", "POST", "/worktime/holiday-calendars", json={"name": "Bavaria"})).json()
    dup = await team.call("bob", "POST", "/worktime/holiday-calendars", json={"name": "bavaria"})
    assert dup.status_code == 409
    holiday = await team.call(
        "bob",
        "POST",
        f"/worktime/holiday-calendars/{calendar['id']}/holidays",
        json={"day": "2026-11-12", "name": "Fair"},
    )
    assert holiday.status_code == 201, holiday.text
    # Full time from Monday 2 November, half time with the calendar from Wednesday 11 November.
    await _contract(team, "dave", "2026-11-02", FULL_WEEK)
    await _contract(team, "dave", "2026-11-11", HALF_WEEK, calendar_id=calendar["id"])
    half = await _absent(
        team, "dave", {"kind": "other", "first_day": "2026-11-13", "last_day": "2026-11-13", "half_day": True}
    )
    assert half.status_code == 201, half.text
    vacation = await _absent(team, "dave", {"kind": "vacation", "first_day": "2026-11-16", "last_day": "2026-11-20"})
    assert vacation.status_code == 201
    for start, end in (
        ("2026-11-10T08:00:00Z", "2026-11-10T17:00:00Z"),  # Tuesday: 9 h of 8
        ("2026-11-11T08:00:00Z", "2026-11-11T12:00:00Z"),  # Wednesday: 4 h of 4
        ("2026-11-12T08:00:00Z", "2026-11-12T09:00:00Z"),  # Thursday, the holiday: 1 h of 0
        ("2026-11-13T08:00:00Z", "2026-11-13T10:00:00Z"),  # Friday, half a day off: 2 h of 2
    ):
        assert (await team.log("dave", start, end)).status_code == 201
    week = {"from": "2026-11-09", "to": "2026-11-16"}
    balance = await team.call("dave", "GET", "/worktime/balance", params=week)
    assert balance.status_code == 200, balance.text
    body = balance.json()
    by_day = {d["day"]: d for d in body["days"]}
    assert [(d["expected_minutes"], d["tracked_minutes"]) for d in body["days"]] == [
        (480, 0), (480, 540), (240, 240), (0, 60), (120, 120), (0, 0), (0, 0), (0, 0),
    ]  # fmt: skip
    assert by_day["2026-11-12"]["holiday"] == "Fair"
    assert by_day["2026-11-13"]["absence"] == "other" and by_day["2026-11-13"]["half_day"] is True
    assert by_day["2026-11-16"]["absence"] == "vacation"
    assert (body["from"], body["to"], body["balance_since"]) == ("2026-11-09", "2026-11-16", "2026-11-02")
    assert (body["expected_minutes"], body["tracked_minutes"], body["balance_minutes"]) == (1320, 960, -360)
    # The first week expected 5 x 8 h and got nothing.
    assert body["cumulative_balance_minutes"] == -2400 - 360
    # The timesheet of that week carries the same figures.
    sheet = (await team.call("dave", "GET", "/timesheets", params={"week": "2026-W46"})).json()
    assert sheet["worktime"]["expected_minutes"] == 1320 and sheet["worktime"]["tracked_minutes"] == 960
    assert sheet["worktime"]["overtime_minutes"] == -360 and sheet["worktime"]["balance_minutes"] == -2760
    assert [d["holiday"] for d in sheet["worktime"]["days"]].count("Fair") == 1
    # Before the first contract nothing is expected.
    before = (
        await team.call("dave", "GET", "/worktime/balance", params={"from": "2026-10-26", "to": "2026-11-01"})
    ).json()
    assert before["expected_minutes"] == 0 and before["cumulative_balance_minutes"] == 0
    bad = await team.call("dave", "GET", "/worktime/balance", params={"from": "2026-11-09", "to": "2026-11-01"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    # The calendar is in use: it stays.
    assert (await team.call("bob", "DELETE", f"/worktime/holiday-calendars/{calendar['id']}")).status_code == 409
    actions = [
        r["action"]
        for r in await owner_db.fetch("SELECT action FROM audit_events WHERE org_id = $1::uuid ORDER BY seq", team.org)
    ]
    for action in ("holiday_calendar.created", "holiday.created", "work_contract.created", "absence.created"):
        assert action in actions, action


async def test_a_week_across_the_dst_change_counts_local_days(team: Team) -> None:
    assert (await team.call("dave", "PUT", "/time-zone", json={"time_zone": "Europe/Berlin"})).status_code == 200
    await _contract(team, "dave", "2026-10-19", FULL_WEEK)
    # 00:30 on Monday 19 October in Berlin (summer time, UTC+2) is still Sunday in UTC.
    assert (await team.log("dave", "2026-10-18T22:30:00Z", "2026-10-18T23:30:00Z")).status_code == 201
    # 23:30 on Sunday 25 October in Berlin (winter time since 03:00 that day, UTC+1).
    assert (await team.log("dave", "2026-10-25T22:30:00Z", "2026-10-25T23:30:00Z")).status_code == 201
    body = (
        await team.call("dave", "GET", "/worktime/balance", params={"from": "2026-10-19", "to": "2026-10-26"})
    ).json()
    tracked = {d["day"]: d["tracked_minutes"] for d in body["days"]}
    assert tracked["2026-10-19"] == 60 and tracked["2026-10-25"] == 60 and tracked["2026-10-26"] == 0
    assert body["time_zone"] == "Europe/Berlin" and body["expected_minutes"] == 2400 + 480
    sheet = (await team.call("dave", "GET", "/timesheets", params={"week": "2026-W43"})).json()
    assert sheet["worktime"]["tracked_minutes"] == 120 and sheet["worktime"]["overtime_minutes"] == 120 - 2400


async def test_who_sees_and_records_whose_absences_and_balance(team: Team, owner_db: Any) -> None:
    dave, bob = str(DEMO_IDS["dave"]), str(DEMO_IDS["bob"])
    week = {"from": "2026-11-23", "to": "2026-11-29"}
    # A member reads only their own balance; the lead of dave's project and the auditor read his.
    assert (await team.call("dave", "GET", "/worktime/balance", params={**week, "user_id": bob})).status_code == 403
    assert (await team.call("carol", "GET", "/worktime/balance", params={**week, "user_id": dave})).status_code == 200
    assert (await team.call("carol", "GET", "/worktime/balance", params={**week, "user_id": bob})).status_code == 403
    assert (await team.call("erin", "GET", "/worktime/balance", params={**week, "user_id": dave})).status_code == 200
    own = await _absent(
        team, "dave", {"kind": "sick", "first_day": "2026-11-24", "last_day": "2026-11-25", "note": "flu"}
    )
    assert own.status_code == 201 and own.json()["user_id"] == dave
    overlap = await _absent(
        team, "carol", {"user_id": dave, "kind": "vacation", "first_day": "2026-11-25", "last_day": "2026-11-27"}
    )
    assert overlap.status_code == 409 and overlap.headers["content-type"].startswith("application/problem+json")
    for bad in (
        {"kind": "vacation", "first_day": "2026-11-27", "last_day": "2026-11-26"},
        {"kind": "vacation", "first_day": "2026-11-26", "last_day": "2026-11-27", "half_day": True},
        {"kind": "vacation", "first_day": "2026-01-01", "last_day": "2027-12-31"},
        {"kind": "holiday", "first_day": "2026-11-26", "last_day": "2026-11-26"},
    ):
        refused = await team.call("dave", "POST", "/worktime/absences", json=bad)
        assert refused.status_code == 422, bad
    # The lead records one for dave; dave cannot record one for bob; the auditor records nothing.
    by_lead = await _absent(
        team, "carol", {"user_id": dave, "kind": "vacation", "first_day": "2026-11-26", "last_day": "2026-11-27"}
    )
    assert by_lead.status_code == 201 and by_lead.json()["created_by"] == str(DEMO_IDS["carol"])
    assert (
        await _absent(
            team, "dave", {"user_id": bob, "kind": "sick", "first_day": "2026-11-26", "last_day": "2026-11-26"}
        )
    ).status_code == 403
    assert (
        await _absent(
            team, "erin", {"user_id": dave, "kind": "sick", "first_day": "2026-12-01", "last_day": "2026-12-01"}
        )
    ).status_code == 403
    admins = await _absent(team, "bob", {"kind": "vacation", "first_day": "2026-11-23", "last_day": "2026-11-23"})
    assert admins.status_code == 201
    # Dave sees his two; the lead's team view has dave's (bob is on none of carol's projects); the admin's all.
    mine = (await team.call("dave", "GET", "/worktime/absences")).json()
    assert {a["id"] for a in mine["items"]} == {own.json()["id"], by_lead.json()["id"]}
    leads = (await team.call("carol", "GET", "/worktime/absences", params={"scope": "team"})).json()
    assert {a["user_id"] for a in leads["items"]} == {dave}
    assert (await team.call("bob", "GET", "/worktime/absences", params={"scope": "team"})).json()["total"] == 3
    assert (await team.call("dave", "DELETE", f"/worktime/absences/{admins.json()['id']}")).status_code == 403
    assert (await team.call("dave", "DELETE", f"/worktime/absences/{by_lead.json()['id']}")).status_code == 204
    # Another organization sees none of it, through the API or the database.
    other = await create_org(team.client, await team.tokens.headers("alice"), "Elsewhere")
    theirs = await team.client.get(
        f"/api/v1/orgs/{other['id']}/worktime/absences", params={"scope": "team"},
        headers=await team.tokens.headers("alice"),
    )  # fmt: skip
    assert theirs.status_code == 200 and theirs.json()["total"] == 0
    stranger = await team.client.get(
        f"/api/v1/orgs/{team.org}/worktime/absences", headers=await team.tokens.headers("grace")
    )
    assert stranger.status_code == 404
    audit = await owner_db.fetch(
        "SELECT action, changes FROM audit_events WHERE org_id = $1::uuid AND resource_type = 'absence' ORDER BY seq",
        team.org,
    )
    assert [r["action"] for r in audit] == ["absence.created", "absence.created", "absence.created", "absence.deleted"]
    assert all("flu" not in str(r["changes"]) for r in audit)


async def test_rls_hides_another_organizations_rows(team: Team, runtime_db: Any) -> None:
    await _contract(team, "dave", "2026-11-02", FULL_WEEK)
    made = await _absent(team, "dave", {"kind": "sick", "first_day": "2026-11-03", "last_day": "2026-11-03"})
    assert made.status_code == 201
    other = await create_org(team.client, await team.tokens.headers("alice"), "Elsewhere")
    for org, expected in ((team.org, 1), (str(other["id"]), 0)):
        async with runtime_db.transaction():
            await runtime_db.execute("SELECT set_config('app.org_id', $1, true)", org)
            for table in ("work_contracts", "absences"):
                assert await runtime_db.fetchval(f"SELECT count(*) FROM {table}") == expected, (org, table)


async def test_the_dashboard_shows_each_persons_week_and_the_queue_their_absences(team: Team) -> None:
    from datetime import UTC, datetime, timedelta

    await _contract(team, "dave", "2026-11-02", FULL_WEEK)
    assert (await team.log("dave", "2026-11-24T08:00:00Z", "2026-11-24T16:00:00Z")).status_code == 201
    away = await _absent(team, "dave", {"kind": "vacation", "first_day": "2026-11-26", "last_day": "2026-11-27"})
    assert away.status_code == 201
    assert (await team.call("dave", "POST", "/timesheets/submit", json={"week": "2026-W48"})).status_code == 200
    now = datetime.now(UTC).replace(microsecond=0)
    start, end = (now - timedelta(hours=2)).isoformat(), (now - timedelta(hours=1)).isoformat()
    assert (await team.log("dave", start, end)).status_code == 201
    board = (await team.call("carol", "GET", "/dashboard")).json()
    [row] = [s for s in board["awaiting_my_approval"] if s["week"] == "2026-W48"]
    assert [(a["kind"], a["first_day"], a["last_day"]) for a in row["absences"]] == [
        ("vacation", "2026-11-26", "2026-11-27")
    ]
    [mine] = [w for w in board["worktime"] if w["user_id"] == str(DEMO_IDS["dave"])]
    assert mine["tracked_minutes"] == 60 and mine["overtime_minutes"] == 60 - mine["expected_minutes"]
    # The week of 23 November expected 3 x 8 h (Thursday and Friday away) and got 8 h.
    sheet = (await team.call("dave", "GET", "/timesheets", params={"week": "2026-W48"})).json()
    assert sheet["worktime"]["expected_minutes"] == 3 * 480 and sheet["worktime"]["overtime_minutes"] == -2 * 480
