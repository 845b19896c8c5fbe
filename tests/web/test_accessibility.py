"""axe-core on every page of the web app, as it loads for an owner (every control shown) and for a plain
member (what members get, refusals included), and on the sign-in page; see tests/web/a11y.py for the
rules. The page is checked once it says it is ready (``body[data-ready]``), with its data drawn."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import ACME, Keycloak
from tests.web.a11y import FAILING, axe_violations, describe
from tests.web.conftest import sign_in

ORG_PAGES = (
    "timer",
    "timesheet",
    "absences",
    "team",
    "projects",
    "calendar",
    "clients",
    "notes",
    "decisions",
    "reports",
    "exports",
    "reminders",
    "members",
    "audit",
    "sso",
    "settings",
)


def _check(page: Any, url: str, found: dict[str, str]) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready]")
    assert page.get_attribute("body", "data-ready") == "true", page.text_content("#alert")
    violations = axe_violations(page, impacts=FAILING)
    if violations:
        found[url] = describe(violations)


@pytest.mark.parametrize("username", ["alice", "dave"])
def test_every_page_has_no_serious_accessibility_violation(
    username: str, web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID]
) -> None:
    org = demo_orgs[ACME]
    page = new_page()
    sign_in(page, web_url, username, keycloak.demo_password)
    found: dict[str, str] = {}
    _check(page, f"{web_url}/", found)
    _check(page, f"{web_url}/notifications", found)
    for name in ORG_PAGES:
        _check(page, f"{web_url}/orgs/{org}/{name}", found)
    # A project and a task: the seed's website relaunch and its first card.
    page.goto(f"{web_url}/orgs/{org}/projects")
    page.wait_for_selector("body[data-ready]")
    project = page.get_by_role("link", name="Website relaunch").get_attribute("href")
    _check(page, f"{web_url}{project}", found)
    task = page.locator(".card.task a.ref").first.get_attribute("href")
    _check(page, f"{web_url}{task}", found)
    # The bell's dropdown, open.
    page.get_by_role("button", name="Notifications").click()
    page.locator("#bell-menu").wait_for()
    if violations := axe_violations(page, impacts=FAILING):
        found["the open bell"] = describe(violations)
    assert not found, "\n\n".join(f"{url}:\n{text}" for url, text in found.items())


def test_the_sign_in_page_has_no_serious_accessibility_violation(web_url: str, new_page: Callable[..., Any]) -> None:
    page = new_page()
    page.goto(f"{web_url}/auth/login")
    page.wait_for_selector("#signin-form")
    violations = axe_violations(page, impacts=FAILING)
    assert not violations, describe(violations)
    page.fill("#signin-email", "someone@")  # the page again, saying why
    page.click("#signin-continue")
    page.wait_for_selector("#signin-form")
    violations = axe_violations(page, impacts=FAILING)
    assert not violations, describe(violations)
