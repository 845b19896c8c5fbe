"""The timesheet's corrections UI in Chromium: entries in the locked period or in an approved week are
shown as locked, project leads and admins add corrections (the API's refusal shown next to the form), and
everyone sees an entry's corrections with the total the timesheet counts."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx

from tests.conftest import ACME, Keycloak, unique_slug
from tests.web.conftest import sign_in
from tests.web.test_invitation_flow import token_for


def api(web_url: str, headers: dict[str, str], method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, f"{web_url}/api/v1{path}", headers=headers, timeout=30, **kwargs)
    assert response.status_code in (200, 201), response.text
    return response.json()


def locked_org(web_url: str, keycloak: Keycloak, description: str) -> tuple[str, str]:
    """A fresh organization of alice's with a 2 h entry on Tuesday 2026-01-06 (UTC) behind a period lock
    at 2026-02-01: (org id, entry id). The demo orgs keep their own lock untouched."""
    alice = token_for(keycloak, "alice", keycloak.demo_password)
    org = api(web_url, alice, "POST", "/orgs", json={"name": "Locked Ltd", "slug": unique_slug("locked")})["id"]
    project = api(web_url, alice, "POST", f"/orgs/{org}/projects", json={"name": "Audit prep"})["id"]
    entry = api(
        web_url,
        alice,
        "POST",
        f"/orgs/{org}/time-entries",
        json={
            "project_id": project,
            "start_at": "2026-01-06T09:00:00Z",
            "end_at": "2026-01-06T11:00:00Z",
            "description": description,
        },
    )["id"]
    api(web_url, alice, "PUT", f"/orgs/{org}/time-lock", json={"locked_until": "2026-02-01T00:00:00Z"})
    return org, entry


def test_an_owner_corrects_a_locked_entry_and_sees_the_refusal_and_the_history(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, axe: Callable[..., None]
) -> None:
    org, _ = locked_org(web_url, keycloak, "Quarterly close")
    page = new_page(timezone_id="UTC")
    sign_in(page, web_url, "alice", keycloak.demo_password, f"/orgs/{org}/timesheet?week=2026-W02")
    row = page.locator("#entries tbody tr[data-entry]", has_text="Quarterly close")
    assert "locked period" in row.text_content()
    assert row.get_by_role("button", name="Edit").count() == 0
    # The whole week is before the lock: no new entries, and the page says why.
    assert page.locator("#entry-panel").is_hidden()
    assert "Time before 2026-02-01 is locked" in page.text_content("#lock-note")
    row.get_by_role("button", name="Add correction").click()
    panel = page.locator("tr.corrections[data-loaded='0']:not([hidden])")
    panel.wait_for()
    assert "No corrections yet" in panel.text_content()
    # Taking off more than was logged: the API's 422 appears next to the form, nothing is saved.
    panel.get_by_label("Change in minutes").fill("-600")
    panel.get_by_label("Reason").fill("Way too much")
    panel.get_by_role("button", name="Save correction").click()
    error = panel.locator(".form-error")
    error.wait_for()
    assert "negative" in error.text_content()
    axe(page, "the timesheet with a refused correction")
    panel.get_by_label("Change in minutes").fill("-30")
    panel.get_by_label("Reason").fill("Left early; logged 2 h by mistake")
    panel.get_by_role("button", name="Save correction").click()
    page.wait_for_selector("#alert.info")
    assert "\u22120:30:00" in page.text_content("#alert")
    # The entry counts 1:30 now; what was logged stays visible, and the week's total follows.
    assert "1:30:00 (logged 2:00:00)" in row.text_content()
    assert "1.50" in page.text_content("#week tfoot")
    panel = page.locator("tr.corrections[data-loaded='1']:not([hidden])")
    panel.wait_for()
    history = panel.locator(".corr-list").text_content()
    assert "\u22120:30:00 by you" in history and "Left early; logged 2 h by mistake" in history
    assert "the timesheet counts 1:30:00" in panel.text_content()
    # Focus went back to the button that opened the form; Escape closes the panel.
    assert page.evaluate("document.activeElement.textContent") == "Add correction"
    panel.get_by_label("Reason").focus()
    page.keyboard.press("Escape")
    assert page.locator("tr.corrections:not([hidden])").count() == 0
    assert page.evaluate("document.activeElement.getAttribute('aria-expanded')") == "false"


def test_a_member_sees_the_approved_week_locked_and_its_corrections_but_cannot_add_one(
    web_url: str,
    new_page: Callable[..., Any],
    keycloak: Keycloak,
    demo_orgs: dict[str, uuid.UUID],
    axe: Callable[..., None],
) -> None:
    org = str(demo_orgs[ACME])
    number = random.randint(2, 50)
    week = f"2022-W{number:02d}"  # other browser tests use 2023 to 2025
    wednesday = date.fromisocalendar(2022, number, 3).isoformat()
    dave, carol = (token_for(keycloak, who, keycloak.demo_password) for who in ("dave", "carol"))
    projects = api(web_url, dave, "GET", f"/orgs/{org}/projects?limit=100")
    website = next(p["id"] for p in projects["items"] if p["name"] == "Website relaunch")
    entry = api(
        web_url,
        dave,
        "POST",
        f"/orgs/{org}/time-entries",
        json={
            "project_id": website,
            "start_at": f"{wednesday}T08:00:00Z",
            "end_at": f"{wednesday}T09:00:00Z",
            "description": "Approved work",
        },
    )["id"]
    sheet = api(web_url, dave, "POST", f"/orgs/{org}/timesheets/submit", json={"week": week})
    api(web_url, carol, "POST", f"/orgs/{org}/timesheets/{sheet['id']}/approve")
    # carol leads the project: she corrects dave's approved entry.
    api(
        web_url,
        carol,
        "POST",
        f"/orgs/{org}/time-entries/{entry}/corrections",
        json={"duration_delta_seconds": 900, "reason": "Call ran over"},
    )

    page = new_page(timezone_id="Europe/Berlin")
    sign_in(page, web_url, "dave", keycloak.demo_password, f"/orgs/{org}/timesheet?week={week}")
    assert page.text_content("#sheet-status") == "approved"
    row = page.locator("#entries tbody tr[data-entry]", has_text="Approved work")
    assert "week approved" in row.text_content()
    assert "1:15:00 (logged 1:00:00)" in row.text_content()
    assert row.get_by_role("button", name="Add correction").count() == 0
    row.get_by_role("button", name="Corrections").click()
    panel = page.locator("tr.corrections[data-loaded='1']:not([hidden])")
    panel.wait_for()
    assert "Call ran over" in panel.text_content()
    assert "+0:15:00" in panel.text_content()
    assert panel.locator("form").count() == 0
    axe(page, "a member's approved week with its corrections")
    # The API agrees: a member cannot add one.
    refused = httpx.post(
        f"{web_url}/api/v1/orgs/{org}/time-entries/{entry}/corrections",
        headers=dave,
        json={"duration_delta_seconds": 60, "reason": "more"},
        timeout=30,
    )
    assert refused.status_code == 403


def test_an_approver_sees_the_corrected_entries_of_a_week_before_approving_it(
    web_url: str,
    new_page: Callable[..., Any],
    keycloak: Keycloak,
    demo_orgs: dict[str, uuid.UUID],
    axe: Callable[..., None],
) -> None:
    org = str(demo_orgs[ACME])
    number = random.randint(2, 50)
    week = f"2021-W{number:02d}"
    thursday = date.fromisocalendar(2021, number, 4).isoformat()
    dave, carol = (token_for(keycloak, who, keycloak.demo_password) for who in ("dave", "carol"))
    projects = api(web_url, dave, "GET", f"/orgs/{org}/projects?limit=100")
    website = next(p["id"] for p in projects["items"] if p["name"] == "Website relaunch")
    entry = api(
        web_url,
        dave,
        "POST",
        f"/orgs/{org}/time-entries",
        json={
            "project_id": website,
            "start_at": f"{thursday}T07:00:00Z",
            "end_at": f"{thursday}T09:00:00Z",
            "description": "Submitted work",
        },
    )["id"]
    api(web_url, dave, "POST", f"/orgs/{org}/timesheets/submit", json={"week": week})
    # Submitted: frozen for dave; carol, its lead, corrects it rather than sending it back.
    api(
        web_url,
        carol,
        "POST",
        f"/orgs/{org}/time-entries/{entry}/corrections",
        json={"duration_delta_seconds": -3600, "reason": "Lunch was included"},
    )
    page = new_page(timezone_id="Europe/Berlin")
    sign_in(page, web_url, "carol", keycloak.demo_password, f"/orgs/{org}/team")
    row = page.locator("#queue tr[data-user]", has_text=week)
    row.get_by_role("button", name="Entries").click()
    detail = page.locator("#queue tr.week-entries:not([hidden])")
    detail.wait_for()
    text = detail.text_content()
    assert "Submitted work" in text and "1:00:00 (logged 2:00:00, corrected)" in text
    assert "1.00 h counted" in text
    assert row.get_by_role("button", name="Entries").get_attribute("aria-expanded") == "true"
    axe(page, "the approval queue with a week's entries open")
    row.get_by_role("button", name="Approve").click()
    page.wait_for_selector("#alert.info")
    assert page.locator("#queue tr[data-user]", has_text=week).count() == 0
