"""The reports' numbers: per role, across time zones and a DST change, with corrections after the lock."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from tests.conftest import DEMO_IDS
from tests.tracking.conftest import Team


async def _log(team: Team, who: str, start: str, end: str, **extra: Any) -> dict[str, Any]:
    made = await team.log(who, start, end, **extra)
    assert made.status_code == 201, made.text
    return dict(made.json())


async def _report(team: Team, who: str, path: str = "/reports/time", **params: Any) -> dict[str, Any]:
    response = await team.call(who, "GET", path, params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _world(team: Team) -> dict[str, Any]:
    mobile = await team.new_project("Mobile", {"grace": "lead", "heidi": "contributor"})
    ids = {"mobile": mobile}
    ids["dave"] = (await _log(team, "dave", "2026-03-02T09:00:00Z", "2026-03-02T11:00:00Z", tags=["dev"]))["id"]
    await _log(team, "carol", "2026-03-03T09:00:00Z", "2026-03-03T10:00:00Z", tags=["dev", "review"])
    await _log(team, "heidi", "2026-03-04T09:00:00Z", "2026-03-04T10:30:00Z", project_id=mobile)
    await _log(team, "grace", "2026-03-05T09:00:00Z", "2026-03-05T09:30:00Z", project_id=mobile, billable=False)
    return ids


async def test_the_same_query_gives_each_role_its_own_totals(org_team: Team) -> None:
    await _world(org_team)
    query = {"from": "2026-03-01", "to": "2026-03-31", "tz": "UTC"}
    expected = {
        "dave": (7200, "own"),  # a member: their own time
        "heidi": (5400, "own"),
        "grace": (7200, "led_projects"),  # a lead: their own and everyone's on Mobile (1.5 h + 0.5 h)
        "carol": (18000, "organization"),  # a manager: the organization
        "bob": (18000, "organization"),
        "alice": (18000, "organization"),
        "erin": (18000, "organization"),  # the auditor reads everything
    }
    for who, (seconds, scope) in expected.items():
        report = await _report(org_team, who, **query)
        assert (report["totals"]["duration_seconds"], report["scope"]) == (seconds, scope), who
    # Amounts per currency: 100 EUR/h on billable time (grace's half hour is not billable).
    org = await _report(org_team, "erin", **query)
    assert org["totals"]["billable_seconds"] == 16200
    assert org["totals"]["amounts"] == [{"currency": "EUR", "amount": "450.00"}]
    grace = await _report(org_team, "grace", **query)
    assert grace["totals"]["amounts"] == [{"currency": "EUR", "amount": "150.00"}]


async def test_two_levels_and_tags_count_each_entry_once_in_the_totals(org_team: Team) -> None:
    ids = await _world(org_team)
    report = await _report(
        org_team, "alice", **{"from": "2026-03-01", "to": "2026-03-31", "group_by": ["project", "user"]}
    )
    by_project = {g["label"]: g for g in report["groups"]}
    assert by_project["Website"]["duration_seconds"] == 10800
    assert {g["key"]: g["duration_seconds"] for g in by_project["Website"]["groups"]} == {
        str(DEMO_IDS["dave"]): 7200,
        str(DEMO_IDS["carol"]): 3600,
    }
    assert by_project["Mobile"]["key"] == ids["mobile"]
    tags = await _report(org_team, "alice", **{"from": "2026-03-01", "to": "2026-03-31", "group_by": ["tag"]})
    assert {g["key"]: g["duration_seconds"] for g in tags["groups"]} == {"dev": 10800, "review": 3600, None: 7200}
    assert tags["totals"]["duration_seconds"] == 18000  # carol's entry carries two tags, counted once here
    assert tags["totals"]["entries"] == 4
    filtered = await _report(
        org_team, "alice", **{"from": "2026-03-01", "to": "2026-03-31", "tag": "review", "billable": "true"}
    )
    assert filtered["totals"]["duration_seconds"] == 3600
    only_mobile = await _report(
        org_team, "alice", **{"from": "2026-03-01", "to": "2026-03-31", "project_id": ids["mobile"]}
    )
    assert only_mobile["totals"]["duration_seconds"] == 7200


async def test_every_grouping_adds_up_to_the_totals_and_names_its_groups(org_team: Team) -> None:
    ids = await _world(org_team)
    month = {"from": "2026-03-01", "to": "2026-03-31"}
    plain = await _report(org_team, "alice", **month)
    assert plain["totals"]["duration_seconds"] == 18000
    for key in ("project", "client", "user", "task", "day", "week", "month"):
        for second in ("tag", "day", "user"):
            if second == key:
                continue
            report = await _report(org_team, "alice", **month, group_by=[key, second])
            assert report["totals"] == plain["totals"], (key, second)
            # The first level adds up to the totals; below it, each group adds up to its parent except
            # by tag, where an entry with two tags stands in both.
            assert sum(g["duration_seconds"] for g in report["groups"]) == 18000, (key, second)
            for group in report["groups"]:
                children = sum(c["duration_seconds"] for c in group["groups"])
                if second == "tag":
                    assert children >= group["duration_seconds"], (key, group)
                else:
                    assert children == group["duration_seconds"], (key, group)
                    assert all(c["label"] is not None for c in group["groups"]), (key, second, group)
    by_project = await _report(org_team, "alice", **month, group_by="project")
    assert {g["key"]: g["label"] for g in by_project["groups"]} == {
        org_team.project: "Website",
        ids["mobile"]: "Mobile",
    }
    by_user = await _report(org_team, "alice", **month, group_by="user")
    assert all(g["label"] for g in by_user["groups"])
    by_month = await _report(org_team, "alice", **month, group_by="month")
    assert [(g["key"], g["label"]) for g in by_month["groups"]] == [("2026-03", "2026-03")]


async def test_days_are_cut_in_the_requested_zone(org_team: Team) -> None:
    await _log(org_team, "dave", "2026-03-02T23:30:00Z", "2026-03-03T00:30:00Z")
    utc = await _report(org_team, "dave", **{"from": "2026-03-01", "to": "2026-03-31", "group_by": "day"})
    assert [(g["key"], g["duration_seconds"]) for g in utc["groups"]] == [("2026-03-02", 3600)]
    tokyo = await _report(
        org_team, "dave", **{"from": "2026-03-01", "to": "2026-03-31", "group_by": "day", "tz": "Asia/Tokyo"}
    )
    assert [(g["key"], g["duration_seconds"]) for g in tokyo["groups"]] == [("2026-03-03", 3600)]
    # The period's edges are in the zone too: 2026-03-03 in Tokyo starts at 2026-03-02T15:00Z.
    edge = await _report(org_team, "dave", **{"from": "2026-03-03", "to": "2026-03-03", "tz": "Asia/Tokyo"})
    assert edge["totals"]["duration_seconds"] == 3600
    edge = await _report(org_team, "dave", **{"from": "2026-03-03", "to": "2026-03-03", "tz": "UTC"})
    assert edge["totals"]["duration_seconds"] == 0


async def test_an_entry_across_the_dst_change_counts_once_with_its_real_length(org_team: Team) -> None:
    # 01:30 CEST to 03:30 CET on 2026-10-25: two hours on the wall clock, three real ones (03:00 CEST
    # became 02:00 CET).
    await _log(org_team, "dave", "2026-10-25T01:30:00+02:00", "2026-10-25T03:30:00+01:00")
    await _log(org_team, "dave", "2026-10-26T09:00:00+01:00", "2026-10-26T10:00:00+01:00")
    query = {"from": "2026-10-19", "to": "2026-11-01", "tz": "Europe/Berlin"}
    days = await _report(org_team, "dave", **query, group_by="day")
    assert [(g["key"], g["duration_seconds"]) for g in days["groups"]] == [("2026-10-25", 10800), ("2026-10-26", 3600)]
    weeks = await _report(org_team, "dave", **query, group_by="week")
    assert [(g["key"], g["duration_seconds"]) for g in weeks["groups"]] == [("2026-W43", 10800), ("2026-W44", 3600)]
    assert weeks["totals"]["duration_seconds"] == 14400
    # The DST week's timesheet grid: 2026-10-25 is the Sunday of W43, 25 hours long, its entry counted once.
    grid = await _report(org_team, "dave", "/reports/timesheet", week="2026-W43", tz="Europe/Berlin")
    (row,) = grid["people"]
    assert [c["duration_seconds"] for c in row["days"]] == [0, 0, 0, 0, 0, 0, 10800]
    assert row["weeks"] == [
        {"week": "2026-W43", "week_start": "2026-10-19", "status": "open", "duration_seconds": 10800}
    ]
    # In UTC the entry starts on Saturday 2026-10-24 23:30.
    utc = await _report(org_team, "dave", **{**query, "tz": "UTC"}, group_by="day")
    assert utc["groups"][0]["key"] == "2026-10-24"


async def test_corrections_after_the_lock_are_added_to_their_entry(org_team: Team) -> None:
    ids = await _world(org_team)
    lock = await org_team.call("alice", "PUT", "/time-lock", json={"locked_until": "2026-03-31T00:00:00Z"})
    assert lock.status_code == 200, lock.text
    corrected = await org_team.call(
        "carol",
        "POST",
        f"/time-entries/{ids['dave']}/corrections",
        json={"duration_delta_seconds": 1800, "reason": "r"},
    )
    assert corrected.status_code == 201, corrected.text
    mine = await _report(org_team, "dave", **{"from": "2026-03-01", "to": "2026-03-31"})
    assert mine["totals"]["duration_seconds"] == 9000
    assert mine["totals"]["amounts"] == [{"currency": "EUR", "amount": "250.00"}]
    by_day = await _report(org_team, "alice", **{"from": "2026-03-01", "to": "2026-03-31", "group_by": "day"})
    assert by_day["groups"][0] == {**by_day["groups"][0], "key": "2026-03-02", "duration_seconds": 9000}
    productivity = await _report(
        org_team, "alice", "/reports/productivity", **{"from": "2026-03-02", "to": "2026-03-08"}
    )
    dave = next(m for m in productivity["members"] if m["user_id"] == str(DEMO_IDS["dave"]))
    assert dave["tracked_seconds"] == 9000
    assert dave["corrected_after_lock"] == 1
    assert dave["expected_seconds"] == 40 * 3600
    assert Decimal(dave["billable_ratio"]) == Decimal("1.000")


async def test_timesheet_grid_projects_and_productivity(org_team: Team) -> None:
    ids = await _world(org_team)
    submitted = await org_team.call("dave", "POST", "/timesheets/submit", json={"week": "2026-W10"})
    assert submitted.status_code == 200, submitted.text
    grid = await _report(org_team, "carol", "/reports/timesheet", week="2026-W10")
    rows = {r["user_id"]: r for r in grid["people"]}
    assert rows[str(DEMO_IDS["dave"])]["weeks"][0]["status"] == "submitted"
    assert rows[str(DEMO_IDS["dave"])]["days"][0] == {"day": "2026-03-02", "duration_seconds": 7200}
    assert rows[str(DEMO_IDS["heidi"])]["total_seconds"] == 5400
    assert str(DEMO_IDS["erin"]) not in rows  # auditors track no time
    mine = await _report(org_team, "dave", "/reports/timesheet", month="2026-03")
    assert [r["user_id"] for r in mine["people"]] == [str(DEMO_IDS["dave"])]
    assert len(mine["days"]) == 31

    budget = await org_team.call(
        "alice",
        "PATCH",
        f"/projects/{ids['mobile']}",
        json={"budget_kind": "hours", "budget_period": "total", "budget_amount": "1.5", "estimate_hours": "4"},
    )
    assert budget.status_code == 200, budget.text
    projects = await _report(org_team, "grace", "/reports/projects")
    (mobile,) = [p for p in projects["projects"] if p["project_id"] == ids["mobile"]]
    assert (mobile["budget_used"], mobile["burn_percent"], mobile["over_budget"]) == ("2.00", "133.3", True)
    assert (mobile["estimate_percent"], mobile["over_estimate"]) == ("50.0", False)
    assert {p["name"] for p in projects["projects"]} == {"Mobile"}  # grace leads only Mobile
    capacity = await org_team.call(
        "alice", "PUT", f"/reports/capacities/{DEMO_IDS['heidi']}", json={"weekly_hours": 20}
    )
    assert capacity.status_code == 200, capacity.text
    productivity = await _report(
        org_team, "grace", "/reports/productivity", **{"from": "2026-03-02", "to": "2026-03-08"}
    )
    people = {m["user_id"]: m for m in productivity["members"]}
    assert set(people) == {str(DEMO_IDS["grace"]), str(DEMO_IDS["heidi"])}
    assert people[str(DEMO_IDS["heidi"])]["expected_seconds"] == 20 * 3600
    assert people[str(DEMO_IDS["grace"])]["billable_ratio"] == "0.000"


async def test_bad_input_is_a_422(org_team: Team) -> None:
    for params in (
        {"from": "2026-03-01", "to": "2026-03-31", "tz": "Mars/Olympus"},
        {"from": "2026-03-31", "to": "2026-03-01"},
        {"from": "2026-03-01", "to": "2026-03-31", "group_by": ["day", "day"]},
        {"from": "2026-03-01", "to": "2026-03-31", "group_by": ["day", "user", "project"]},
        {"from": "2026-03-01", "to": "2026-03-31", "group_by": "planet"},
    ):
        response = await org_team.call("alice", "GET", "/reports/time", params=params)
        assert response.status_code == 422, (params, response.text)
    assert (await org_team.call("alice", "GET", "/reports/timesheet")).status_code == 422


def _a_zone_well_into_its_week() -> tuple[str, datetime]:
    for zone in ("Pacific/Kiritimati", "Etc/GMT+12"):
        local = datetime.now(UTC).astimezone(ZoneInfo(zone))
        monday = datetime.combine(local.date() - timedelta(days=local.weekday()), time(), tzinfo=ZoneInfo(zone))
        if local - monday >= timedelta(hours=12):
            return zone, monday
    raise AssertionError("two zones 26 hours apart cannot both be within 12 hours of a Monday")


def _z(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def test_the_dashboard_in_one_call(org_team: Team, client: Any, tokens: Any, demo_orgs: Any) -> None:
    alice = await tokens.headers("alice")
    board = await client.get(f"/api/v1/orgs/{demo_orgs['acme']}/dashboard", headers=alice)
    assert board.status_code == 200, board.text
    assert board.json()["scope"] == "organization"
    assert {"running_timers", "awaiting_my_approval", "over_budget"} <= set(board.json())
    # This week's figures, independent of the clock: of the two zones 26 hours apart, one is at least half a
    # day into its week, and an hour logged early that week is on the board.
    zone, monday = _a_zone_well_into_its_week()
    start = monday + timedelta(hours=1)
    await _log(org_team, "alice", _z(start), _z(start + timedelta(hours=1)))
    mine = await _report(org_team, "alice", "/dashboard", tz=zone)
    assert mine["time_zone"] == zone
    assert [(m["user_id"], m["total_seconds"]) for m in mine["this_week"]] == [(str(DEMO_IDS["alice"]), 3600)]
    assert [p["duration_seconds"] for p in mine["top_projects"]] == [3600]
    carol = await client.get(f"/api/v1/orgs/{demo_orgs['acme']}/dashboard", headers=await tokens.headers("carol"))
    assert [s["week"] for s in carol.json()["awaiting_my_approval"]] == ["2026-W47"]  # dave's submitted week
    dave = await client.get(f"/api/v1/orgs/{demo_orgs['acme']}/dashboard", headers=await tokens.headers("dave"))
    assert {m["user_id"] for m in dave.json()["this_week"]} <= {str(DEMO_IDS["dave"])}
    assert dave.json()["awaiting_my_approval"] == []


async def test_a_narrower_scope_on_request(org_team: Team) -> None:
    await _world(org_team)
    query = {"from": "2026-03-01", "to": "2026-03-31"}
    carol = await _report(org_team, "carol", **query, scope="own")
    assert (carol["scope"], carol["totals"]["duration_seconds"]) == ("own", 3600)
    carol = await _report(org_team, "carol", **query, scope="led_projects")
    assert (carol["scope"], carol["totals"]["duration_seconds"]) == ("led_projects", 10800)
    refused = await org_team.call("grace", "GET", "/reports/time", params={**query, "scope": "organization"})
    assert refused.status_code == 403
