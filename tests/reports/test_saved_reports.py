"""Saved reports and their public share links: validation, who may do what, live figures, revocation,
expiry, the audit of every view, and tenant isolation."""

from __future__ import annotations

import random
import secrets
import uuid
from datetime import date
from typing import Any

import httpx

from backend.app import create_app
from backend.reports.service import resolve_range
from tests.conftest import DEMO_IDS, create_org
from tests.tracking.conftest import Team

MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


async def _log(team: Team, who: str, start: str, end: str, **extra: Any) -> dict[str, Any]:
    made = await team.log(who, start, end, **extra)
    assert made.status_code == 201, made.text
    return dict(made.json())


async def _save(team: Team, who: str, **body: Any) -> dict[str, Any]:
    body = {"name": "March by project", "query": {**MARCH, "group_by": ["project", "user"]}, **body}
    made = await team.call(who, "POST", "/saved-reports", json=body)
    assert made.status_code == 201, made.text
    return dict(made.json())


async def _public(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get(f"/api/v1/shared-reports/{token}")


async def test_create_list_update_delete_and_validation(org_team: Team) -> None:
    made = await _save(org_team, "dave", query={**MARCH, "group_by": ["project"], "project_id": [org_team.project]})
    assert made["owner_id"] == str(DEMO_IDS["dave"])
    assert made["shared"] is False
    assert made["query"]["from"] == "2026-03-01"
    assert made["query"]["project_id"] == [org_team.project]
    path = f"/saved-reports/{made['id']}"

    # Validation: the reports API's own schema, plus ids that must exist in this organization.
    bad = {
        "unknown project": {**MARCH, "project_id": [str(uuid.uuid4())]},
        "unknown client": {**MARCH, "client_id": [str(uuid.uuid4())]},
        "unknown person": {**MARCH, "user_id": [str(uuid.uuid4())]},
        "unknown range": {"range": "last_fortnight"},
        "range and dates": {"range": "last_month", **MARCH},
        "no period": {"group_by": ["project"]},
        "to before from": {"from": "2026-03-31", "to": "2026-03-01"},
        "too long": {"from": "2025-01-01", "to": "2026-03-01"},
        "unknown zone": {**MARCH, "tz": "Mars/Olympus"},
        "unknown grouping": {**MARCH, "group_by": ["planet"]},
        "same grouping twice": {**MARCH, "group_by": ["day", "day"]},
        "unknown key": {**MARCH, "project_ids": [org_team.project]},
        "year one": {"from": "0001-01-01", "to": "0001-01-02", "tz": "Pacific/Kiritimati"},
        "a NUL in a tag": {**MARCH, "tag": ["dev\x00"]},
    }
    for case, query in bad.items():
        refused = await org_team.call("dave", "POST", "/saved-reports", json={"name": "x", "query": query})
        assert refused.status_code == 422, (case, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json"), case
    unknown = await org_team.call(
        "dave", "POST", "/saved-reports", json={"name": "x", "query": {**MARCH, "project_id": [str(uuid.UUID(int=7))]}}
    )
    assert str(uuid.UUID(int=7)) in unknown.json()["detail"]
    for name in ("", "   ", "x" * 201, "bad\x00name"):
        refused = await org_team.call("dave", "POST", "/saved-reports", json={"name": name, "query": MARCH})
        assert refused.status_code == 422, (name, refused.text)
    refused = await org_team.call("dave", "PATCH", path, json={"query": {"range": "next_month"}})
    assert refused.status_code == 422

    # Private to dave until shared.
    listed = await org_team.call("dave", "GET", "/saved-reports")
    assert [r["id"] for r in listed.json()] == [made["id"]]
    assert (await org_team.call("heidi", "GET", "/saved-reports")).json() == []
    assert (await org_team.call("heidi", "GET", path)).status_code == 404
    assert (await org_team.call("heidi", "GET", path + "/result")).status_code == 404

    changed = await org_team.call("dave", "PATCH", path, json={"name": "Website in March", "shared": True})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["shared"]) == ("Website in March", True)
    assert [r["name"] for r in (await org_team.call("heidi", "GET", "/saved-reports")).json()] == ["Website in March"]
    assert (await org_team.call("heidi", "GET", path)).status_code == 200
    # Shared means readable, not writable: only the owner (or an admin) changes or deletes it.
    assert (await org_team.call("heidi", "PATCH", path, json={"name": "Mine now"})).status_code == 403
    assert (await org_team.call("heidi", "DELETE", path)).status_code == 403
    assert (await org_team.call("carol", "PATCH", path, json={"name": "Mine now"})).status_code == 403
    by_admin = await org_team.call("bob", "PATCH", path, json={"query": {"range": "last_month"}})
    assert by_admin.status_code == 200, by_admin.text
    assert by_admin.json()["query"]["range"] == "last_month"
    assert by_admin.json()["query"].get("from") is None

    assert (await org_team.call("dave", "DELETE", path)).status_code == 204
    assert (await org_team.call("dave", "GET", path)).status_code == 404
    assert (await org_team.call("dave", "GET", "/saved-reports")).json() == []
    actions = [
        e["action"]
        for e in (await org_team.call("alice", "GET", "/audit-events", params={"action": "saved_report."})).json()[
            "items"
        ]
    ]
    assert actions.count("saved_report.created") == 1
    assert actions.count("saved_report.updated") == 2
    assert actions.count("saved_report.deleted") == 1


async def test_what_each_role_may_do(org_team: Team) -> None:
    # The auditor reads and runs shared reports but saves none.
    refused = await org_team.call("erin", "POST", "/saved-reports", json={"name": "x", "query": MARCH})
    assert refused.status_code == 403
    daves = await _save(org_team, "dave", shared=True)
    assert (await org_team.call("erin", "GET", f"/saved-reports/{daves['id']}/result")).status_code == 200
    # Public links take managers up, on their own reports (admins on anyone's).
    assert (await org_team.call("dave", "POST", f"/saved-reports/{daves['id']}/links", json={})).status_code == 403
    assert (await org_team.call("erin", "POST", f"/saved-reports/{daves['id']}/links", json={})).status_code == 403
    assert (await org_team.call("carol", "POST", f"/saved-reports/{daves['id']}/links", json={})).status_code == 403
    by_admin = await org_team.call("bob", "POST", f"/saved-reports/{daves['id']}/links", json={})
    assert by_admin.status_code == 201, by_admin.text
    carols = await _save(org_team, "carol")
    made = await org_team.call("carol", "POST", f"/saved-reports/{carols['id']}/links", json={"expires_in_days": 7})
    assert made.status_code == 201, made.text
    carols_links = f"/saved-reports/{carols['id']}/links"
    too_long = await org_team.call("carol", "POST", carols_links, json={"expires_in_days": 91})
    assert too_long.status_code == 422
    links = await org_team.call("carol", "GET", f"/saved-reports/{carols['id']}/links")
    assert [link["id"] for link in links.json()] == [made.json()["id"]]
    assert "token" not in links.json()[0]
    # Someone else's link is revoked by its creator, the report's owner or an admin, never by a bystander.
    link = f"/saved-reports/{daves['id']}/links/{by_admin.json()['id']}"
    assert (await org_team.call("carol", "DELETE", link)).status_code == 403
    assert (await org_team.call("dave", "DELETE", link)).status_code == 403  # the owner, but no share right
    assert (await org_team.call("bob", "DELETE", link)).status_code == 204
    # Each person runs a shared report with their own scope, like the live report.
    await _log(org_team, "dave", "2026-03-02T09:00:00Z", "2026-03-02T11:00:00Z")
    await _log(org_team, "carol", "2026-03-03T09:00:00Z", "2026-03-03T10:00:00Z")
    for who, seconds, scope in (("dave", 7200, "own"), ("carol", 10800, "organization"), ("heidi", 0, "own")):
        result = await org_team.call(who, "GET", f"/saved-reports/{daves['id']}/result")
        assert result.status_code == 200, result.text
        report = result.json()["report"]
        assert (report["totals"]["duration_seconds"], report["scope"]) == (seconds, scope), who


async def test_a_share_link_shows_the_live_figures_and_every_view_is_audited(
    org_team: Team, client: httpx.AsyncClient
) -> None:
    await _log(org_team, "dave", "2026-03-02T09:00:00Z", "2026-03-02T11:00:00Z", tags=["dev"])
    await _log(org_team, "carol", "2026-03-03T09:00:00Z", "2026-03-03T10:00:00Z")
    report = await _save(org_team, "carol")
    made = await org_team.call("carol", "POST", f"/saved-reports/{report['id']}/links", json={})
    assert made.status_code == 201, made.text
    link = made.json()
    assert link["token"].startswith("wtrep_")
    assert link["url"].endswith(f"/shared/{link['token']}")
    assert link["api_url"].endswith(f"/api/v1/shared-reports/{link['token']}")
    assert link["expires_at"] > link["created_at"]

    authenticated = (await org_team.call("carol", "GET", f"/saved-reports/{report['id']}/result")).json()["report"]
    live = await org_team.call("carol", "GET", "/reports/time", params={**MARCH, "group_by": ["project", "user"]})
    assert live.json()["totals"] == authenticated["totals"]
    shared = await _public(client, link["token"])
    assert shared.status_code == 200, shared.text
    assert shared.headers["cache-control"] == "private, no-store"
    body = shared.json()
    assert body["name"] == "March by project"
    assert body["totals"] == authenticated["totals"]
    assert body["totals"]["duration_seconds"] == 10800
    assert [g["duration_seconds"] for g in body["groups"]] == [g["duration_seconds"] for g in authenticated["groups"]]
    # Nothing beyond the figures: no query (ids), no scope, no owner; people by display name, never an email.
    shown = {"name", "period_start", "period_end", "time_zone", "group_by", "groups", "totals", "expires_at"}
    assert set(body) == shown
    assert "@" not in shared.text
    people = {g["key"]: g["label"] for g in body["groups"][0]["groups"]}
    assert set(people) == {str(DEMO_IDS["dave"]), str(DEMO_IDS["carol"])}
    named = {g["key"]: g["label"] for g in authenticated["groups"][0]["groups"]}
    assert people == {key: (None if label is None or "@" in label else label) for key, label in named.items()}
    assert all(people.values()), people  # the demo people have display names

    # Live: a new entry shows at once.
    await _log(org_team, "dave", "2026-03-10T09:00:00Z", "2026-03-10T09:30:00Z")
    again = (await _public(client, link["token"])).json()
    assert again["totals"]["duration_seconds"] == 10800 + 1800

    views = (
        await org_team.call(
            "alice", "GET", "/audit-events", params={"action": "saved_report.link_viewed", "resource_id": link["id"]}
        )
    ).json()["items"]
    assert len(views) == 2
    assert all(v["actor_user_id"] is None for v in views)
    listed = (await org_team.call("carol", "GET", f"/saved-reports/{report['id']}/links")).json()
    assert listed[0]["views"] == 2
    assert listed[0]["last_viewed_at"] is not None


async def test_revoked_expired_and_unknown_links_are_the_same_404(
    org_team: Team, client: httpx.AsyncClient, owner_db: Any
) -> None:
    report = await _save(org_team, "carol", query={"range": "last_month"})
    links = f"/saved-reports/{report['id']}/links"
    revoked = (await org_team.call("carol", "POST", links, json={})).json()
    expired = (await org_team.call("carol", "POST", links, json={})).json()
    assert (await _public(client, revoked["token"])).status_code == 200
    assert (await org_team.call("carol", "DELETE", f"{links}/{revoked['id']}")).status_code == 204
    assert (await org_team.call("carol", "DELETE", f"{links}/{revoked['id']}")).status_code == 204  # idempotent
    await owner_db.execute("SELECT set_config('app.org_id', $1, false)", org_team.org)
    await owner_db.execute(
        "UPDATE report_share_links SET expires_at = now() - interval '1 second' WHERE id = $1",
        uuid.UUID(expired["id"]),
    )
    answers = [
        await _public(client, token)
        for token in (revoked["token"], expired["token"], "wtrep_" + "A" * 43, "not-a-link", revoked["token"] + "x")
    ]
    assert [a.status_code for a in answers] == [404] * 5
    assert len({a.json()["detail"] for a in answers}) == 1
    # A link stops with its report.
    live = (await org_team.call("carol", "POST", links, json={})).json()
    assert (await _public(client, live["token"])).status_code == 200
    assert (await org_team.call("carol", "DELETE", f"/saved-reports/{report['id']}")).status_code == 204
    assert (await _public(client, live["token"])).status_code == 404


async def test_a_link_stops_when_its_creator_may_no_longer_share(
    org_team: Team, client: httpx.AsyncClient, owner_db: Any
) -> None:
    report = await _save(org_team, "carol")
    link = (await org_team.call("carol", "POST", f"/saved-reports/{report['id']}/links", json={})).json()
    assert (await _public(client, link["token"])).status_code == 200
    demoted = await org_team.call("alice", "PATCH", f"/members/{DEMO_IDS['carol']}", json={"role": "member"})
    assert demoted.status_code == 200, demoted.text
    assert (await _public(client, link["token"])).status_code == 404


async def test_another_organizations_report_is_a_404(org_team: Team, client: httpx.AsyncClient) -> None:
    report = await _save(org_team, "alice", shared=True)
    alice = await org_team.tokens.headers("alice")
    other = await create_org(client, alice, "Elsewhere")
    base = f"/api/v1/orgs/{other['id']}/saved-reports/{report['id']}"
    for method, path in (("GET", ""), ("GET", "/result"), ("PATCH", ""), ("DELETE", ""), ("POST", "/links")):
        answer = await client.request(method, base + path, headers=alice, json={} if method != "GET" else None)
        assert answer.status_code == 404, (method, path, answer.text)
    assert (await client.get(f"/api/v1/orgs/{other['id']}/saved-reports", headers=alice)).json() == []
    assert (await org_team.call("alice", "GET", f"/saved-reports/{report['id']}")).status_code == 200


async def test_relative_ranges_and_the_live_report_take_them(org_team: Team) -> None:
    today = date(2026, 3, 18)  # a Wednesday
    assert resolve_range("today", "UTC", today) == (today, today)
    assert resolve_range("this_week", "UTC", today) == (date(2026, 3, 16), date(2026, 3, 22))
    assert resolve_range("last_week", "UTC", today) == (date(2026, 3, 9), date(2026, 3, 15))
    assert resolve_range("last_month", "UTC", today) == (date(2026, 2, 1), date(2026, 2, 28))
    assert resolve_range("this_month", "UTC", date(2026, 12, 31)) == (date(2026, 12, 1), date(2026, 12, 31))
    assert resolve_range("last_month", "UTC", date(2026, 1, 5)) == (date(2025, 12, 1), date(2025, 12, 31))
    assert resolve_range("last_30_days", "UTC", today) == (date(2026, 2, 17), today)
    assert resolve_range("last_year", "UTC", today) == (date(2025, 1, 1), date(2025, 12, 31))
    answer = await org_team.call("alice", "GET", "/reports/time", params={"range": "this_year", "tz": "Europe/Berlin"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["period_start"].endswith("T23:00:00Z")  # 1 January 00:00 in Berlin
    assert (await org_team.call("alice", "GET", "/reports/time", params={"range": "soon"})).status_code == 422
    both = await org_team.call("alice", "GET", "/reports/time", params={"range": "this_year", **MARCH})
    assert both.status_code == 422


async def test_guessing_share_links_is_rate_limited_per_address(settings: Any) -> None:
    app = create_app(settings.model_copy(update={"rate_limit_enabled": True, "rate_limit_anonymous": "3/minute"}))
    address = f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            guesses = [await _public(http, "wtrep_" + secrets.token_urlsafe(32)) for _ in range(4)]
    assert [g.status_code for g in guesses] == [404, 404, 404, 429]
    assert guesses[-1].json()["policy"] == "anonymous"
