"""The main flows with the keyboard alone: after signing in (Keycloak's own login page), Playwright only
presses Tab, Shift+Tab, Enter, Space, Escape and arrow keys and types into whatever has the focus — no
mouse, no element clicks, no fill(). Every stop on the way must show a focus ring, and after each action
the focus lands somewhere sensible (the next control, the new row, the triggering button)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from tests.conftest import ACME, Keycloak
from tests.web.conftest import sign_in
from tests.web.test_corrections_page import locked_org

FOCUS_RING = """() => {
  const node = document.activeElement;
  const style = getComputedStyle(node);
  return node !== document.body && style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
}"""


def focused(page: Any, css: str) -> bool:
    return bool(page.evaluate("(css) => document.activeElement?.matches(css) ?? false", css))


def wait_focus(page: Any, css: str, why: str) -> None:
    """The focus gets to ``css`` once the page has finished what the key started."""
    try:
        page.wait_for_function("(css) => document.activeElement?.matches(css)", arg=css, timeout=10_000)
    except Exception as error:
        raise AssertionError(
            f"{why}; the focus is on {page.evaluate('document.activeElement.outerHTML')[:200]}"
        ) from error


def tab_to(page: Any, css: str, *, back: bool = False, limit: int = 150) -> None:
    """Tab (or Shift+Tab) until the focused element matches ``css``; it must show its focus ring."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if focused(page, css):
            assert page.evaluate(FOCUS_RING), f"{css} has the focus but no visible focus ring"
            return
    raise AssertionError(f"Tab never reached {css}")


def ready(page: Any) -> None:
    page.wait_for_selector("body[data-ready='true']")


def test_start_and_stop_the_timer_with_the_keyboard(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID]
) -> None:
    page = new_page(locale="en-US")
    sign_in(page, web_url, "dave", keycloak.demo_password, f"/orgs/{demo_orgs[ACME]}/timer")
    ready(page)
    what = f"Keyboard timer {uuid.uuid4().hex[:6]}"
    tab_to(page, "#project")
    page.keyboard.press("ArrowDown")  # another project, chosen with the arrows
    tab_to(page, "#description")
    page.keyboard.type(what)
    tab_to(page, "#start")
    page.keyboard.press("Enter")
    page.wait_for_selector("#running:not([hidden])")
    wait_focus(page, "#stop", "after starting, the focus is on Stop timer")
    assert page.evaluate(FOCUS_RING)
    page.keyboard.press("Space")
    page.wait_for_selector("#start-form:not([hidden])")
    page.wait_for_selector(f"#today >> text={what}")
    wait_focus(page, "#description", "after stopping, the focus is back in the start form")


def test_add_an_entry_and_submit_the_week_then_an_approver_approves_it_with_the_keyboard(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID]
) -> None:
    org = demo_orgs[ACME]
    number = random.randint(2, 50)
    week = f"2023-W{number:02d}"
    monday = date.fromisocalendar(2023, number, 1).isoformat()
    dave = new_page(locale="en-US", timezone_id="UTC")
    sign_in(dave, web_url, "dave", keycloak.demo_password, f"/orgs/{org}/timesheet?week={week}")
    ready(dave)
    assert dave.text_content("#sheet-status") == "open"
    tab_to(dave, "#entry-project")
    assert dave.input_value("#entry-day") == monday  # the day defaults to the week's Monday
    tab_to(dave, "#entry-from")
    dave.keyboard.type("0900A")
    tab_to(dave, "#entry-to")
    dave.keyboard.type("1045A")
    tab_to(dave, "#entry-desc")
    dave.keyboard.type("Keyboard-logged work")
    tab_to(dave, "#entry-save")
    dave.keyboard.press("Enter")
    dave.wait_for_selector("#alert.info, #alert:not(.info):not([hidden])")
    assert dave.get_attribute("#alert", "class") == "alert info", dave.text_content("#alert")
    wait_focus(dave, "#entries tr[data-entry]", "after saving, the focus is on the new row")
    assert "Keyboard-logged work" in dave.evaluate("document.activeElement.textContent")
    assert "1.75" in dave.text_content("#week tfoot")
    tab_to(dave, "#submit-week", back=True)
    dave.keyboard.press("Enter")
    dave.wait_for_selector("#sheet-status.submitted")
    wait_focus(dave, "#sheet-status", "after submitting, the focus is on the week's new status")

    carol = new_page(locale="en-US", timezone_id="UTC")
    sign_in(carol, web_url, "carol", keycloak.demo_password, f"/orgs/{org}/team?week={week}")
    ready(carol)
    tab_to(carol, f'#queue button[aria-label$="week {week}"].primary')
    carol.keyboard.press("Enter")
    carol.wait_for_selector("#alert.info")
    assert f"week {week}" in carol.text_content("#alert")
    wait_focus(carol, "#queue button.primary, #approve-h", "after approving, the focus moves on in the queue")
    dave.reload()
    dave.wait_for_selector("#sheet-status.approved")


def test_add_a_correction_to_a_locked_entry_with_the_keyboard(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak
) -> None:
    org, _ = locked_org(web_url, keycloak, "Keyboard close")
    page = new_page(locale="en-US", timezone_id="UTC")
    sign_in(page, web_url, "alice", keycloak.demo_password, f"/orgs/{org}/timesheet?week=2026-W02")
    ready(page)
    tab_to(page, "button.corr-toggle")
    page.keyboard.press("Enter")
    page.wait_for_selector("tr.corrections[data-loaded]:not([hidden])")
    wait_focus(page, "tr.corrections input[type=number]", "the form opens with the focus in it")
    # Escape closes it and gives the focus back to the button; Space opens it again.
    page.keyboard.press("Escape")
    assert focused(page, "button.corr-toggle[aria-expanded=false]")
    page.keyboard.press("Space")
    wait_focus(page, "tr.corrections input[type=number]", "reopened, the focus is in the form again")
    page.keyboard.type("-20")
    tab_to(page, "tr.corrections input:not([type])")
    page.keyboard.type("Ended early")
    tab_to(page, "tr.corrections button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#alert.info")
    page.wait_for_selector("tr.corrections[data-loaded='1']:not([hidden])")
    wait_focus(page, "button.corr-toggle", "after saving, the focus is back on Add correction")
    assert page.evaluate(FOCUS_RING)
    assert "1:40:00 (logged 2:00:00)" in page.text_content("#entries")
    assert "Ended early" in page.text_content("tr.corrections .corr-list")
