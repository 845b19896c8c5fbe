"""Creating an organization from the home page and setting it up in headless Chromium: time rules with
rounding, the period lock, rates, a personal API token, and a Toggl import (dry run, then for real);
what a member and an auditor see of the same page."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import ACME, Keycloak
from tests.web.conftest import sign_in

# A Toggl "detailed" export: one row for alice, one for someone who is not a member.
TOGGL = """\
User,Email,Client,Project,Task,Description,Billable,Start date,Start time,End date,End time,Duration,Tags,Amount (USD)
Alice Owner,alice@acme.test,,Onboarding,,Kickoff,Yes,2026-02-02,09:00:00,2026-02-02,10:30:00,01:30:00,,
Nobody,nobody@example.test,,Onboarding,,Who is this,Yes,2026-02-02,11:00:00,2026-02-02,12:00:00,01:00:00,,
"""


def _api(page: Any, path: str) -> Any:
    return page.evaluate("async (path) => (await fetch('/api/v1' + path, {credentials: 'same-origin'})).json()", path)


def test_an_owner_creates_an_organization_and_sets_it_up(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, web_worker: subprocess.Popen[bytes]
) -> None:
    alice = new_page()
    sign_in(alice, web_url, "alice", keycloak.demo_password, "/")
    name = f"Setup Works {uuid.uuid4().hex[:6]}"
    alice.fill("#new-org-name", name)
    assert alice.input_value("#new-org-slug") == name.lower().replace(" ", "-")
    alice.get_by_role("button", name="Create", exact=True).click()
    alice.wait_for_url("**/settings")
    alice.wait_for_selector("body[data-ready='true']")
    org = alice.url.split("/orgs/")[1].split("/")[0]
    assert alice.get_by_role("link", name="Settings").get_attribute("aria-current") == "page"

    # Time rules: a default rate and rounding up to 15 minutes on weekdays only.
    alice.fill("#t-currency", "EUR")
    alice.fill("#t-rate", "80")
    alice.select_option("#t-round-mode", "up")
    alice.fill("#t-round-minutes", "15")
    for day in ("Sat", "Sun"):
        alice.get_by_role("checkbox", name=day).uncheck()
    alice.get_by_role("button", name="Save time settings").click()
    alice.wait_for_selector("#alert.info")
    settings = _api(alice, f"/orgs/{org}/time-settings")
    assert settings["currency"] == "EUR" and settings["default_rate"] == "80.00"
    assert settings["rounding"] == {"mode": "up", "minutes": 15, "weekdays": [1, 2, 3, 4, 5]}

    # The period lock, in alice's zone.
    alice.fill("#lock-date", "2026-01-01")
    alice.get_by_role("button", name="Move the lock", exact=True).click()
    alice.wait_for_function("() => document.querySelector('#lock-state').textContent.includes('2026-01-01')")
    assert _api(alice, f"/orgs/{org}/time-lock")["locked_until"] is not None

    # A rate for alice on every project.
    alice.select_option("#rate-user", label="Alice Owner")
    alice.fill("#rate-amount", "95")
    alice.get_by_role("button", name="Set rate", exact=True).click()
    alice.locator("#rates tbody tr", has_text="95.00 EUR").wait_for()

    # A personal token capped at member: shown once, listed, works against the API, then revoked.
    alice.fill("#token-name", "CI script")
    alice.select_option("#token-role", "member")
    alice.get_by_role("button", name="Create token", exact=True).click()
    alice.wait_for_selector("#token-out:not([hidden])")
    token = alice.text_content("#token-value") or ""
    row = alice.locator("#tokens tbody tr", has_text="CI script")
    assert "member" in (row.text_content() or "")
    me = httpx.get(f"{web_url}/api/v1/orgs/{org}/me/permissions", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["role"] == "member"
    alice.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke the token CI script").click()
    alice.locator("#tokens tbody tr", has_text="revoked").wait_for()
    gone = httpx.get(f"{web_url}/api/v1/orgs/{org}/me/permissions", headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 401

    # A Toggl import: the dry run names the bad line and lands nothing; then the real one lands the rest.
    file = {"name": "toggl-february.csv", "mimeType": "text/csv", "buffer": TOGGL.encode()}
    alice.set_input_files("#import-file", files=[file])
    alice.get_by_role("button", name="Start", exact=True).click()
    alice.wait_for_function("() => /Dry run (done|failed)/.test(document.querySelector('#import-status').textContent)")
    assert "would import 1 of 2 rows" in (alice.text_content("#import-status") or "")
    problem = alice.locator("#import-errors tbody tr")
    assert problem.count() == 1 and "nobody@example.test" in (problem.text_content() or "")
    assert _api(alice, f"/orgs/{org}/time-entries")["total"] == 0
    alice.uncheck("#import-dry")
    alice.set_input_files("#import-file", files=[file])
    alice.get_by_role("button", name="Start", exact=True).click()
    alice.wait_for_function("() => /^Import (done|failed)/.test(document.querySelector('#import-status').textContent)")
    assert "imported 1 of 2 rows" in (alice.text_content("#import-status") or "")
    assert _api(alice, f"/orgs/{org}/time-entries")["total"] == 1
    assert alice.locator("#imports tbody tr", has_text="toggl-february.csv").count() == 2


def test_a_member_and_an_auditor_see_what_their_roles_allow(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID]
) -> None:
    org = demo_orgs[ACME]
    dave = new_page()
    sign_in(dave, web_url, "dave", keycloak.demo_password, f"/orgs/{org}/settings")
    assert dave.locator("#time-panel").is_visible() and dave.locator("#t-currency").is_disabled()
    assert dave.locator("#time-save").is_hidden()
    assert dave.locator("#lock-form").is_hidden() and dave.locator("#rates-panel").is_hidden()
    roles = dave.locator("#token-role option").all_text_contents()
    assert roles[0] == "member (yours)" and "admin" not in " ".join(roles)
    assert dave.locator("#import-form").is_visible()

    erin = new_page()
    sign_in(erin, web_url, "erin", keycloak.demo_password, f"/orgs/{org}/settings")
    assert erin.locator("#rates-panel").is_visible() and erin.locator("#rate-form").is_hidden()
    assert erin.locator("#token-form").is_visible() and erin.locator("#import-form").is_hidden()
