"""The organization's rounding rule: reports round each entry's duration (up, down or to the nearest
step, on the weekdays the rule names), stored entries keep their real length."""

from __future__ import annotations

from typing import Any

from tests.tracking.conftest import Team

QUERY = {"from": "2026-03-01", "to": "2026-03-31", "tz": "UTC"}


async def _entries(team: Team) -> list[str]:
    ids = []
    for start, end in (
        ("2026-03-02T09:00:00Z", "2026-03-02T09:07:00Z"),  # Monday, 7 min
        ("2026-03-03T09:00:00Z", "2026-03-03T09:22:00Z"),  # Tuesday, 22 min
        ("2026-03-07T09:00:00Z", "2026-03-07T09:07:00Z"),  # Saturday, 7 min
    ):
        made = await team.log("dave", start, end)
        assert made.status_code == 201, made.text
        ids.append(str(made.json()["id"]))
    return ids


async def _rule(team: Team, **rounding: Any) -> dict[str, Any]:
    changed = await team.call("alice", "PATCH", "/time-settings", json={"rounding": rounding})
    assert changed.status_code == 200, changed.text
    return dict(changed.json()["rounding"])


async def _by_day(team: Team) -> dict[str, int]:
    report = await team.call("carol", "GET", "/reports/time", params={**QUERY, "group_by": "day"})
    assert report.status_code == 200, report.text
    body = report.json()
    days = {g["key"]: g["duration_seconds"] for g in body["groups"]}
    assert sum(days.values()) == body["totals"]["duration_seconds"]
    return days


async def test_reports_round_each_entry_and_the_entries_keep_their_length(org_team: Team) -> None:
    ids = await _entries(org_team)
    assert await _by_day(org_team) == {"2026-03-02": 420, "2026-03-03": 1320, "2026-03-07": 420}  # no rule yet

    rule = await _rule(org_team, mode="up", minutes=15, weekdays=[5, 1, 2, 3, 4])
    assert rule == {"mode": "up", "minutes": 15, "weekdays": [1, 2, 3, 4, 5]}
    assert await _by_day(org_team) == {"2026-03-02": 900, "2026-03-03": 1800, "2026-03-07": 420}  # not Saturday
    report = (await org_team.call("carol", "GET", "/reports/time", params=QUERY)).json()
    # 100 EUR/h on the rounded time of each entry: 25.00 + 50.00 + 11.67
    assert report["totals"]["amounts"] == [{"currency": "EUR", "amount": "86.67"}]

    await _rule(org_team, mode="down", minutes=15)
    assert await _by_day(org_team) == {"2026-03-02": 0, "2026-03-03": 900, "2026-03-07": 0}
    await _rule(org_team, mode="nearest", minutes=10)
    assert await _by_day(org_team) == {"2026-03-02": 600, "2026-03-03": 1200, "2026-03-07": 600}

    for entry_id, seconds in zip(ids, (420, 1320, 420), strict=True):  # the stored entries never change
        entry = await org_team.call("dave", "GET", f"/time-entries/{entry_id}")
        assert entry.json()["duration_seconds"] == seconds

    await _rule(org_team, mode="none")
    assert await _by_day(org_team) == {"2026-03-02": 420, "2026-03-03": 1320, "2026-03-07": 420}


async def test_a_bad_rule_is_a_422_and_only_admins_set_one(org_team: Team) -> None:
    for bad in ({"mode": "sideways"}, {"mode": "up", "minutes": 0}, {"mode": "up", "weekdays": [8]},
                {"mode": "up", "weekdays": [1, 1]}, {"mode": "up", "minutes": 241}):  # fmt: skip
        answer = await org_team.call("alice", "PATCH", "/time-settings", json={"rounding": bad})
        assert answer.status_code == 422, bad
        assert answer.headers["content-type"].startswith("application/problem+json")
    refused = await org_team.call("carol", "PATCH", "/time-settings", json={"rounding": {"mode": "up"}})
    assert refused.status_code == 403, refused.text
    read = await org_team.call("dave", "GET", "/time-settings")
    assert read.json()["rounding"] == {"mode": "none", "minutes": 1, "weekdays": [1, 2, 3, 4, 5, 6, 7]}
