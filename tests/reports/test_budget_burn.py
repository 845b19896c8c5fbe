"""A project's budget burn on the project read and list: the same figures as the projects report (one SQL
function computes both), visible to those who read the team's time on the project."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.tracking.conftest import Team


async def _log(team: Team, who: str, start: datetime | str, end: datetime | str, **extra: Any) -> None:
    start, end = (v.isoformat() if isinstance(v, datetime) else v for v in (start, end))
    made = await team.log(who, start, end, **extra)
    assert made.status_code == 201, made.text


async def _get(team: Team, who: str, project: str) -> Any:
    response = await team.call(who, "GET", f"/projects/{project}")
    assert response.status_code == 200, response.text
    return response


async def test_the_project_read_carries_the_reports_burn(org_team: Team) -> None:
    mobile = await org_team.new_project("Mobile", {"grace": "lead", "heidi": "contributor"})
    await _log(org_team, "heidi", "2026-03-04T09:00:00Z", "2026-03-04T10:30:00Z", project_id=mobile)
    await _log(org_team, "grace", "2026-03-05T09:00:00Z", "2026-03-05T09:30:00Z", project_id=mobile, billable=False)
    patched = await org_team.call(
        "alice",
        "PATCH",
        f"/projects/{mobile}",
        json={"budget_kind": "hours", "budget_period": "total", "budget_amount": "1.5"},
    )
    assert patched.status_code == 200, patched.text

    burn = (await _get(org_team, "grace", mobile)).json()["budget_burn"]
    assert burn == {
        "seconds": 7200,
        "hours": "2.00",
        "amount": "150.00",  # 1.5 h billable at 100 EUR/h
        "month_seconds": 0,
        "month_hours": "0.00",
        "month_amount": "0.00",
        "budget_used": "2.00",
        "burn_percent": "133.3",
        "over_budget": True,
    }
    report = (await org_team.call("grace", "GET", "/reports/projects")).json()
    (figures,) = [p for p in report["projects"] if p["project_id"] == mobile]
    assert (figures["budget_used"], figures["burn_percent"], figures["over_budget"]) == ("2.00", "133.3", True)

    # Those who read the team's time see it; a contributor (and a plain member) does not.
    for who in ("alice", "bob", "erin"):  # (carol, a manager outside Mobile, may not read it at all)
        assert (await _get(org_team, who, mobile)).json()["budget_burn"]["budget_used"] == "2.00", who
    assert (await _get(org_team, "heidi", mobile)).json()["budget_burn"] is None
    listed = {p["id"]: p for p in (await org_team.call("grace", "GET", "/projects")).json()["items"]}
    assert listed[mobile]["budget_burn"]["burn_percent"] == "133.3"
    assert listed[org_team.project]["budget_burn"] is None  # grace does not lead Website
    listed = {p["id"]: p for p in (await org_team.call("carol", "GET", "/projects")).json()["items"]}
    assert listed[mobile]["budget_burn"]["seconds"] == 7200 and listed[org_team.project]["budget_burn"] is not None


async def test_a_monthly_budget_counts_this_month_and_time_does_not_change_the_etag(org_team: Team) -> None:
    project = org_team.project
    patched = await org_team.call(
        "alice",
        "PATCH",
        f"/projects/{project}",
        json={"budget_kind": "money", "budget_period": "monthly", "budget_amount": "400"},
    )
    assert patched.status_code == 200, patched.text
    first = await _get(org_team, "carol", project)
    assert first.json()["budget_burn"]["budget_used"] == "0.00"

    now = datetime.now(UTC).replace(microsecond=0)
    await _log(org_team, "dave", now - timedelta(hours=3), now - timedelta(hours=2))  # this month: 100 EUR
    await _log(org_team, "dave", "2026-03-02T09:00:00Z", "2026-03-02T11:00:00Z")  # an earlier month
    again = await _get(org_team, "carol", project)
    burn = again.json()["budget_burn"]
    assert (burn["amount"], burn["month_amount"], burn["budget_used"], burn["burn_percent"]) == (
        "300.00",
        "100.00",
        "100.00",
        "25.0",
    )
    # The ETag covers the project, not the time booked on it: an If-Match from before still applies.
    assert again.headers["etag"] == first.headers["etag"]
    headers = {**await org_team.tokens.headers("alice"), "If-Match": first.headers["etag"]}
    renamed = await org_team.client.patch(
        f"{org_team.base}/projects/{project}", json={"name": "Website 2"}, headers=headers
    )
    assert renamed.status_code == 200, renamed.text
