"""The absences page and the timesheet's working time in headless Chromium, per role, against the real
Keycloak login page: a member records and deletes their own absence, a lead sees the team's, an auditor
reads without controls; the timesheet shows expected, tracked, overtime and balance and marks the seed's
holiday and half day off (backend/seed.py: contracts from week 45, Saxony's 18 November)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from typing import Any

from tests.conftest import ACME, Keycloak
from tests.web.conftest import sign_in

Axe = Callable[..., None]


def test_a_member_records_sees_and_deletes_their_own_absence(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID], axe: Axe
) -> None:
    org = demo_orgs[ACME]
    dave = new_page()
    sign_in(dave, web_url, "dave", keycloak.demo_password, f"/orgs/{org}/absences")
    dave.wait_for_selector("body[data-ready]")
    assert dave.get_by_role("link", name="Absences", exact=True).get_attribute("aria-current") == "page"
    assert dave.locator("#absence-scope").is_hidden()  # a member sees only their own
    assert "Vacation" in (dave.locator("#absences tbody").text_content() or "")  # the seed's, before Christmas
    day = f"2031-0{random.randint(1, 9)}-{random.randint(10, 28)}"
    dave.get_by_label("Kind").select_option("sick")
    dave.get_by_label("First day").fill(day)
    dave.get_by_label("Half a day").check()
    assert dave.get_by_label("Last day").input_value() == day
    dave.get_by_role("button", name="Record absence").click()
    dave.wait_for_selector("#alert.info")
    assert f"Sick from {day} to {day} is recorded." in (dave.text_content("#alert") or "")
    row = dave.locator("#absences tbody tr", has_text=day)
    assert "0.5" in (row.text_content() or "") and "You" in (row.text_content() or "")
    axe(dave, "the absences page with an absence")
    # The same day again overlaps: the page says why.
    dave.get_by_label("First day").fill(day)
    dave.get_by_label("Last day").fill(day)
    dave.get_by_role("button", name="Record absence").click()
    dave.wait_for_selector("#alert:not(.info):not([hidden])")
    assert "overlaps" in (dave.text_content("#alert") or "")
    delete = row.get_by_role("button", name="Delete")
    delete.click()
    delete.click()  # "Really delete?"
    dave.locator("#absences tbody tr", has_text=day).wait_for(state="detached")


def test_a_lead_sees_the_teams_absences_and_an_auditor_reads_without_controls(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID], axe: Axe
) -> None:
    org = demo_orgs[ACME]
    carol = new_page()
    sign_in(carol, web_url, "carol", keycloak.demo_password, f"/orgs/{org}/absences")
    carol.wait_for_selector("body[data-ready]")
    carol.get_by_label("Show").select_option("team")
    carol.get_by_role("heading", name="The team's absences").wait_for()
    team = carol.locator("#absences tbody tr", has_text="2026-12-21")
    team.wait_for()
    assert "Vacation" in (team.text_content() or "") and team.get_by_role("button", name="Delete").count() == 1
    axe(carol, "the absences page, the team's")
    erin = new_page()
    sign_in(erin, web_url, "erin", keycloak.demo_password, f"/orgs/{org}/absences")
    erin.wait_for_selector("body[data-ready]")
    assert erin.locator("#absence-form").is_hidden()
    erin.get_by_label("Show").select_option("team")
    row = erin.locator("#absences tbody tr", has_text="2026-12-21")
    row.wait_for()
    assert row.get_by_role("button").count() == 0


def test_the_timesheet_shows_expected_overtime_balance_and_marks_days_off(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID], axe: Axe
) -> None:
    org = demo_orgs[ACME]
    dave = new_page()
    sign_in(dave, web_url, "dave", keycloak.demo_password, f"/orgs/{org}/timesheet?week=2026-W47")
    dave.wait_for_selector("body[data-ready]")
    dave.locator("#worktime").wait_for()
    # Four days of 8 h, Wednesday 18 November a holiday: 24 h expected.
    assert dave.text_content("#wt-expected") == "24:00 h"
    assert dave.locator("#week thead th", has_text="Day of Repentance and Prayer").count() == 1
    assert (dave.text_content("#wt-overtime") or "").startswith(("+", "\u2212"))
    axe(dave, "the timesheet with working time")
    dave.get_by_role("button", name="Previous week").click()
    dave.locator("#week thead th", has_text="Away (half day)").wait_for()


def test_the_team_dashboard_shows_each_persons_working_time(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID], axe: Axe
) -> None:
    org = demo_orgs[ACME]
    carol = new_page()
    sign_in(carol, web_url, "carol", keycloak.demo_password, f"/orgs/{org}/team")
    carol.wait_for_selector("body[data-ready]")
    row = carol.locator("#worktime tbody tr", has_text="Dave")
    row.wait_for()
    cells = row.locator("td").all_text_contents()
    assert cells[0].endswith(" h") and cells[2][0] in "+\u22120"  # expected, tracked, overtime, balance
    assert carol.locator("#queue thead th", has_text="Absences that week").count() == 1
    axe(carol, "the team dashboard with working time")


def test_an_admin_adds_a_holiday_and_a_contract_and_an_auditor_only_reads(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID], axe: Axe
) -> None:
    org = demo_orgs[ACME]
    bob = new_page()
    sign_in(bob, web_url, "bob", keycloak.demo_password, f"/orgs/{org}/settings")
    bob.wait_for_selector("body[data-ready]")
    panel = bob.locator("#worktime-panel")
    panel.locator("#contracts tbody tr", has_text="Dave").first.wait_for()  # the seed's
    day = f"2032-0{random.randint(1, 9)}-{random.randint(10, 28)}"
    bob.locator("#hol-calendar").select_option(label="Germany - Saxony")
    bob.locator("#hol-day").fill(day)
    bob.locator("#hol-name").fill("Test holiday")
    bob.get_by_role("button", name="Add holiday").click()
    bob.locator("#holidays tbody tr", has_text=day).wait_for()
    bob.locator("#ct-user").select_option(label="Erin Auditor")
    bob.locator("#ct-from").fill(day)
    bob.locator("#ct-day-4").fill("4")
    bob.get_by_role("button", name="Add contract").click()
    bob.wait_for_selector("#alert.info")
    row = bob.locator("#contracts tbody tr", has_text=day)
    assert "36 h" in (row.text_content() or "")
    axe(bob, "the settings page's working time")
    row.get_by_role("button", name="Delete").click()
    row.wait_for(state="detached")
    bob.locator("#holidays tbody tr", has_text=day).get_by_role("button", name="Remove").click()
    bob.locator("#holidays tbody tr", has_text=day).wait_for(state="detached")
    erin = new_page()
    sign_in(erin, web_url, "erin", keycloak.demo_password, f"/orgs/{org}/settings")
    erin.wait_for_selector("body[data-ready]")
    erin.locator("#contracts tbody tr", has_text="Dave").first.wait_for()
    assert erin.locator("#contract-form").is_hidden() and erin.locator("#calendar-forms").is_hidden()
