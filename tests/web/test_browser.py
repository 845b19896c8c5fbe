"""End-to-end paths through the web app in headless Chromium, against the real Keycloak login page.

erin's export path is not covered: it needs the exports API, which lands separately."""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
import redis

from tests.conftest import ACME, GLOBEX, Keycloak
from tests.web.conftest import sign_in


def test_alice_signs_in_starts_and_stops_a_timer_and_sees_it_in_her_week(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID]
) -> None:
    page = new_page()
    sign_in(page, web_url, "alice", keycloak.demo_password)
    # The organization switcher lists acme; alice picks it and lands on the timer.
    page.get_by_role("link", name="Acme").click()
    page.wait_for_url(f"{web_url}/orgs/{demo_orgs[ACME]}/timer")
    page.wait_for_selector("body[data-ready='true']")
    # Owners see every page.
    for name in ("Timer", "My timesheet", "Team", "Members", "Audit trail"):
        assert page.get_by_role("link", name=name, exact=True).is_visible()

    description = f"Browser timer {uuid.uuid4().hex[:6]}"
    page.get_by_label("Project").select_option(label="Mobile app")
    page.get_by_label("What are you working on?").fill(description)
    page.get_by_role("button", name="Start timer").click()
    page.wait_for_selector("#running:not([hidden])")
    first = page.text_content("#clock")
    page.wait_for_timeout(1500)
    assert page.text_content("#clock") != first  # the running timer ticks
    page.get_by_role("button", name="Stop timer").click()
    page.wait_for_selector("#start-form:not([hidden])")
    assert description in page.text_content("#today")

    page.get_by_role("link", name="My timesheet").click()
    page.wait_for_selector("body[data-ready='true']")
    assert description in page.text_content("#entries")


def test_dave_submits_his_week_and_carol_approves_it_on_the_dashboard(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID]
) -> None:
    org = demo_orgs[ACME]
    # A past week of his own with nothing in it yet (the seed fills only the last few weeks).
    number = random.randint(5, 45)
    week = f"2025-W{number:02d}"
    tuesday = date.fromisocalendar(2025, number, 2).isoformat()
    dave = new_page(timezone_id="Europe/Berlin")
    sign_in(dave, web_url, "dave", keycloak.demo_password, f"/orgs/{org}/timesheet?week={week}")
    # A member sees no team, members admin or audit pages.
    for name in ("Team", "Audit trail"):
        assert (
            dave.get_by_role("link", name=name, exact=True).count() == 0
            or not dave.get_by_role("link", name=name, exact=True).is_visible()
        )
    assert dave.text_content("#sheet-status") == "open"
    dave.get_by_label("Project").select_option(label="Website relaunch")
    dave.get_by_label("Day").fill(tuesday)
    dave.get_by_label("From").fill("09:00")
    dave.get_by_label("To").fill("11:30")
    dave.get_by_label("Description").fill("Browser-logged work")
    dave.get_by_role("button", name="Save entry").click()
    dave.wait_for_selector("#alert.info, #alert:not(.info):not([hidden])")
    assert dave.get_attribute("#alert", "class") == "alert info", dave.text_content("#alert")
    dave.wait_for_selector("#entries >> text=Browser-logged work")
    assert "2.50" in dave.text_content("#week tfoot")

    # An overlapping entry is refused in plain words.
    dave.get_by_label("From").fill("10:00")
    dave.get_by_label("To").fill("10:30")
    dave.get_by_role("button", name="Save entry").click()
    dave.wait_for_selector("#alert:not([hidden])")
    assert "overlap" in dave.text_content("#alert").lower()

    dave.get_by_role("button", name="Submit week").click()
    dave.wait_for_selector("#sheet-status.submitted")
    assert dave.get_by_role("button", name="Edit").count() == 0  # submitted: read-only

    carol = new_page(timezone_id="Europe/Berlin")
    sign_in(carol, web_url, "carol", keycloak.demo_password, f"/orgs/{org}/team?week={week}")
    row = carol.locator("#queue tr", has_text=week)
    row.get_by_role("button", name=re.compile("^Approve")).click()
    carol.wait_for_selector("#alert.info")
    assert carol.locator("#queue tr", has_text=week).count() == 0
    assert "Dave" in carol.text_content("#hours")

    dave.reload()
    dave.wait_for_selector("#sheet-status.approved")


def test_heidi_never_sees_acme(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID]
) -> None:
    page = new_page()
    sign_in(page, web_url, "heidi", keycloak.demo_password)
    assert "Globex" in page.text_content("#orgs")
    assert "Acme" not in page.content()
    # Even by address: the API answers 404 and the page says so.
    page.goto(f"{web_url}/orgs/{demo_orgs[ACME]}/timesheet")
    page.wait_for_selector("body[data-ready='error']")
    assert "No such organization" in page.text_content("#alert")
    assert demo_orgs[GLOBEX]


def test_signing_out_ends_the_keycloak_session_too(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak
) -> None:
    page = new_page()
    sign_in(page, web_url, "erin", keycloak.demo_password)
    cookie = next(c for c in page.context.cookies() if c["name"] == "wt_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_selector("#signin-form")  # back at the sign-in page
    page.goto(f"{web_url}/")
    page.wait_for_selector("#signin-form")
    # ... and Keycloak asks for the password again: no silent re-login.
    page.fill("#signin-email", "erin")
    page.click("#signin-continue")
    page.wait_for_selector("#kc-form-login")
    assert all(c["name"] != "wt_session" for c in page.context.cookies())
    # The old session id is dead on the API as well.
    answer = httpx.get(f"{web_url}/api/v1/me", cookies={"wt_session": cookie["value"]})
    assert answer.status_code == 401


def test_state_changing_cookie_requests_need_the_csrf_token(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID]
) -> None:
    page = new_page()
    sign_in(page, web_url, "bob", keycloak.demo_password)
    session = next(c for c in page.context.cookies() if c["name"] == "wt_session")["value"]
    csrf = page.get_attribute('meta[name="csrf-token"]', "content")
    org = demo_orgs[ACME]
    with httpx.Client(base_url=web_url, cookies={"wt_session": session}) as http:
        assert http.get(f"/api/v1/orgs/{org}/timer").status_code == 200
        refused = http.post(f"/api/v1/orgs/{org}/timer/stop")
        assert refused.status_code == 403
        assert "CSRF" in refused.json()["detail"]
        allowed = http.post(f"/api/v1/orgs/{org}/timer/stop", headers={"X-CSRF-Token": csrf or ""})
        assert allowed.status_code != 403
    # Pages carry a strict CSP: own scripts only, nothing inline.
    response = httpx.get(f"{web_url}/auth/login", follow_redirects=False)
    assert response.status_code == 200 and "<script" not in response.text  # the sign-in page runs no script
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    page_csp = page.request.get(f"{web_url}/").headers["content-security-policy"]
    assert "script-src 'self';" in page_csp and "unsafe-inline" not in page_csp


def test_members_admin_disables_roles_above_yours_and_the_audit_trail_pages(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID]
) -> None:
    org = demo_orgs[ACME]
    bob = new_page()
    sign_in(bob, web_url, "bob", keycloak.demo_password, f"/orgs/{org}/members")
    invite_role = bob.locator("#invite-role")
    assert invite_role.locator("option[value='owner']").is_disabled()
    assert invite_role.locator("option[value='admin']").is_enabled()
    # alice is the owner, above an admin: no role control or remove button on her row.
    alice_row = bob.locator("#members tbody tr", has_text="alice@acme.test")
    assert alice_row.locator("select").count() == 0
    assert alice_row.get_by_role("button").count() == 0
    dave_row = bob.locator("#members tbody tr", has_text="dave@acme.test")
    assert dave_row.locator("select option[value='owner']").is_disabled()

    bob.goto(f"{web_url}/orgs/{org}/audit?limit=5")
    bob.wait_for_selector("body[data-ready='true']")
    assert bob.text_content("#page-info").startswith("1 to 5 of ")
    assert bob.locator("#newer").is_disabled()
    bob.get_by_role("button", name="Older →").click()
    bob.locator("#page-info", has_text="6 to ").wait_for()  # (no wait_for_function: the CSP forbids eval)
    # The chain's state is recomputed for the page, and the filters narrow the trail (kept in the URL).
    bob.locator("#chain", has_text="Verified just now").wait_for()
    wanted = bob.locator("#audit tbody td:nth-child(4)").first.text_content() or ""
    prefix = wanted.split(".")[0] + "."
    bob.fill("#f-action", prefix)
    bob.get_by_role("button", name="Filter").click()
    bob.locator("#page-info", has_text="1 to ").wait_for()
    actions = bob.locator("#audit tbody td:nth-child(4)").all_text_contents()
    assert actions and all(a.startswith(prefix) for a in actions), actions
    assert f"action={prefix}" in bob.url
    bob.get_by_role("button", name="Export this view (CSV)").click()
    bob.get_by_text("The export was requested").wait_for()

    dave = new_page()
    sign_in(dave, web_url, "dave", keycloak.demo_password, f"/orgs/{org}/audit")
    assert "for owners, admins and auditors" in dave.text_content("#main")
    assert dave.locator("#audit").is_hidden()


def test_the_session_refreshes_its_tokens_on_the_server_before_they_expire(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, migrated: dict[str, str]
) -> None:
    page = new_page()
    sign_in(page, web_url, "grace", keycloak.demo_password)
    session_id = next(c for c in page.context.cookies() if c["name"] == "wt_session")["value"]
    key = f"web:session:{session_id}"
    with redis.Redis.from_url(migrated["WORKTIME_REDIS_URL"]) as store:
        stored = json.loads(store.get(key) or b"{}")
        stored["expires_at"] = time.time()  # the access token is about to expire
        store.set(key, json.dumps(stored), keepttl=True)
        answer = httpx.get(f"{web_url}/api/v1/me", cookies={"wt_session": session_id})
        assert answer.status_code == 200
        refreshed = json.loads(store.get(key) or b"{}")
    assert refreshed["access_token"] != stored["access_token"]
    assert refreshed["expires_at"] > time.time() + 60
    assert refreshed["csrf"] == stored["csrf"]  # same session, same CSRF token
