"""The reports explorer in headless Chromium: filters, two-level grouping, the view in the address bar,
saved reports with a share link, and "export this view", for an owner, a member and an auditor."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from tests.conftest import ACME, DEMO_IDS, Keycloak, unique_slug
from tests.web.conftest import sign_in


def _api(page: Any, path: str) -> Any:
    """What the JSON API answers this signed-in person (the same session cookie the page uses)."""
    return page.evaluate(
        "async (path) => { const r = await fetch('/api/v1' + path, {credentials: 'same-origin'});"
        " return {status: r.status, body: await r.json()}; }",
        path,
    )


def _hours(seconds: int) -> str:
    return f"{seconds / 3600:.2f}"


def _view(page: Any) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def test_an_owner_groups_filters_saves_shares_and_exports_a_view(
    web_url: str,
    new_page: Callable[..., Any],
    keycloak: Keycloak,
    demo_orgs: dict[str, uuid.UUID],
    web_worker: subprocess.Popen[bytes],
) -> None:
    org = demo_orgs[ACME]
    alice = new_page()
    sign_in(alice, web_url, "alice", keycloak.demo_password, f"/orgs/{org}/reports")
    assert alice.get_by_role("link", name="Reports", exact=True).get_attribute("aria-current") == "page"
    # This month, by project then person: the footer is the API's total, and every project has its people.
    assert alice.input_value("#r-range") == "this_month"
    assert alice.text_content("#r-group-col") == "Project \u203a Person"
    zone = alice.input_value("#r-zone")  # alice's own zone in the organization
    expected = _api(alice, f"/orgs/{org}/reports/time?range=this_month&group_by=project&group_by=user&tz={zone}")
    assert expected["status"] == 200
    totals = expected["body"]["totals"]
    assert totals["entries"] > 0, "the demo seed tracks time this month"
    assert alice.text_content("#r-total-hours") == _hours(totals["duration_seconds"])
    assert alice.text_content("#r-total-entries") == str(totals["entries"])
    assert alice.locator("#r-table tbody tr.level1").count() == len(expected["body"]["groups"])
    people_rows = sum(len(g["groups"]) for g in expected["body"]["groups"])
    assert alice.locator("#r-table tbody tr.level2").count() == people_rows
    assert alice.locator("#r-chart svg rect").count() == len(expected["body"]["groups"])
    assert "Everyone's time" in (alice.text_content("#scope-note") or "")

    # Billable time of the last 30 days by client: the address bar carries the view.
    alice.select_option("#r-range", "last_30_days")
    alice.select_option("#r-group1", "client")
    alice.select_option("#r-group2", "")
    alice.select_option("#r-billable", "yes")
    alice.get_by_role("button", name="Show report").click()
    alice.wait_for_function("() => location.search.includes('billable=true')")
    view = _view(alice)
    assert view["range"] == ["last_30_days"] and view["group_by"] == ["client"] and view["billable"] == ["true"]
    billable = _api(alice, f"/orgs/{org}/reports/time?{urlparse(alice.url).query}")["body"]
    assert alice.text_content("#r-total-hours") == _hours(billable["totals"]["duration_seconds"])
    assert billable["totals"]["duration_seconds"] == billable["totals"]["billable_seconds"]
    assert alice.locator("#r-table tbody tr").count() == len(billable["groups"])

    # The bookmarked view opens as it was left.
    alice.goto(alice.url)
    alice.wait_for_selector("body[data-ready='true']")
    assert alice.input_value("#r-billable") == "yes" and alice.input_value("#r-group1") == "client"
    assert alice.text_content("#r-total-hours") == _hours(billable["totals"]["duration_seconds"])

    # Saved and shared with the organization; opened again from a plain page; a share link works signed out.
    name = unique_slug("Billable by client")
    alice.fill("#save-name", name)
    alice.check("#save-shared")
    alice.get_by_role("button", name="Save", exact=True).click()
    alice.wait_for_selector("#alert.info")
    assert name in (alice.text_content("#alert") or "")
    alice.goto(f"{web_url}/orgs/{org}/reports")
    alice.wait_for_selector("body[data-ready='true']")
    assert alice.input_value("#r-billable") == ""
    alice.locator("#saved-list").select_option(label=name)
    alice.wait_for_function("() => document.querySelector('#r-billable').value === 'yes'")
    alice.wait_for_function("() => location.search.includes('billable=true')")
    assert alice.text_content("#r-total-hours") == _hours(billable["totals"]["duration_seconds"])
    alice.get_by_role("button", name="Create share link").click()
    link = alice.locator("#saved-link-url").get_attribute("href")
    assert link and "/shared/wtrep_" in link
    outsider = new_page()  # no account, no session: the link is the credential
    outsider.goto(link)
    assert outsider.text_content("h1") == name
    assert outsider.text_content("#shared-total") == _hours(billable["totals"]["duration_seconds"])
    token = link.rsplit("/", 1)[1]
    assert httpx.get(f"{web_url}/api/v1/shared-reports/{token}", timeout=30).json()["name"] == name
    gone = outsider.goto(f"{web_url}/shared/{token[:-4]}aaaa")
    assert gone is not None and gone.status == 404
    assert outsider.locator("#unavailable").is_visible()

    # Export this view: the export carries the view's filters and period.
    alice.select_option("#ev-format", "csv")
    alice.get_by_role("button", name="Request export").click()
    alice.wait_for_selector("#alert.info")
    assert "Export requested" in (alice.text_content("#alert") or "")
    latest = _api(alice, f"/orgs/{org}/exports?limit=1")["body"]["items"][0]
    assert latest["requested_by"] == str(DEMO_IDS["alice"])
    assert latest["format"] == "csv" and latest["filters"]["billable"] is True


def test_a_member_sees_only_their_own_time_and_an_auditor_reads_without_saving(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID]
) -> None:
    org = demo_orgs[ACME]
    dave = new_page()
    sign_in(dave, web_url, "dave", keycloak.demo_password, f"/orgs/{org}/reports")
    assert dave.text_content("#scope-note") == "Your own time."
    assert dave.locator("#r-people-label").is_hidden()  # a member's report is their own
    assert dave.text_content("#r-group-col") == "Project"
    zone = dave.input_value("#r-zone")
    own = _api(dave, f"/orgs/{org}/reports/time?range=this_month&group_by=project&tz={zone}")["body"]
    assert dave.text_content("#r-total-hours") == _hours(own["totals"]["duration_seconds"])
    assert dave.locator("#save-form").is_visible()

    erin = new_page()
    sign_in(erin, web_url, "erin", keycloak.demo_password, f"/orgs/{org}/reports")
    assert "Everyone's time" in (erin.text_content("#scope-note") or "")
    assert erin.locator("#r-people-label").is_visible()
    assert erin.locator("#saved-panel").is_visible() and erin.locator("#save-form").is_hidden()
    assert erin.locator("#export-view").is_visible()
