"""The calendar page in the browser, per role: dave (member) creates a private event and a recurring one
with an attendee, sees them in the week and month views, opens one with the keyboard and closes it with
Escape, cancels the private one (struck through); bob (admin) sees dave's private event only as busy and
answers his invitation; erin (auditor) reads the calendar without controls and sees busy time too.
Screenshots go to $WORKTIME_WEB_SHOTS when it is set."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tests.conftest import ACME, Keycloak
from tests.web.conftest import sign_in

SHOTS = os.environ.get("WORKTIME_WEB_SHOTS")


def shoot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def _first_monday() -> date:
    """The first Monday of a month some years ahead (a week nobody else's test uses): three weekly
    occurrences from it fall in the same month."""
    first = date(2031 + random.randrange(8), random.randrange(1, 13), 1)
    return first + timedelta(days=(7 - first.weekday()) % 7)


def _chip(page: Any, text: str) -> Any:
    return page.locator("#calendar button.chip", has_text=text)


def test_calendar_per_role_private_busy_recurring_rsvp_and_cancelled(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID]
) -> None:
    org = demo_orgs[ACME]
    tag = uuid.uuid4().hex[:6]
    monday = _first_monday()
    wednesday = monday + timedelta(days=2)
    week_path = f"/orgs/{org}/calendar?view=week&day={monday.isoformat()}"

    dave = new_page(timezone_id="Europe/Berlin")
    sign_in(dave, web_url, "dave", keycloak.demo_password, week_path)
    assert dave.get_by_role("link", name="Calendar").get_attribute("aria-current") == "page"
    assert dave.locator("#cal-label").text_content().endswith(str(monday.year))

    # A private event, from the "+" button of its day.
    add = dave.locator(f"#calendar button.add[data-day='{wednesday.isoformat()}']")
    assert (add.get_attribute("aria-label") or "").startswith("New event on Wednesday")
    add.click()
    form = dave.locator("#form-dialog")
    assert form.is_visible()
    assert dave.locator("#f-day").input_value() == wednesday.isoformat()
    dave.get_by_label("Title", exact=True).fill(f"Dentist {tag}")
    dave.locator("#f-from").fill("10:00")
    dave.locator("#f-to").fill("11:00")
    dave.get_by_label("Location", exact=True).fill("Smile clinic")
    dave.locator("#f-privacy").select_option("private")
    dave.get_by_role("button", name="Create event").click()
    dave.locator("#alert.info").wait_for()
    assert form.is_hidden()
    dentist = _chip(dave, f"Dentist {tag}")
    assert dentist.count() == 1 and "private" in (dentist.get_attribute("class") or "")
    assert dentist.locator(".chip-time").text_content() == "10:00"

    # A weekly review three times, bob invited, from the "New event" button.
    dave.get_by_role("button", name="New event", exact=True).click()
    dave.get_by_label("Title", exact=True).fill(f"Sprint review {tag}")
    dave.locator("#f-day").fill(monday.isoformat())
    dave.locator("#f-from").fill("15:00")
    dave.locator("#f-to").fill("16:00")
    dave.locator("#f-repeat").select_option(label="Every week")
    dave.locator("#f-count").fill("3")
    dave.locator("#f-status").select_option("tentative")
    dave.locator("#f-attendees").select_option(label="Bob Admin")
    dave.get_by_role("button", name="Create event").click()
    _chip(dave, f"Sprint review {tag}").wait_for()
    review = _chip(dave, f"Sprint review {tag}")
    assert review.count() == 1 and "status-tentative" in (review.get_attribute("class") or "")

    # The month view has all three occurrences; Today and back again keep working.
    dave.get_by_role("button", name="Month").click()
    dave.locator("#calendar[data-view='month']").wait_for()
    assert _chip(dave, f"Sprint review {tag}").count() == 3
    assert dave.get_by_role("button", name="Month").get_attribute("aria-pressed") == "true"
    assert "view=month" in dave.url
    shoot(dave, "calendar-month")
    dave.get_by_role("button", name="Week").click()
    dave.locator("#calendar[data-view='week']").wait_for()

    # Keyboard: focus the review, Enter opens its dialog, Escape closes it and focus comes back.
    review = _chip(dave, f"Sprint review {tag}")
    review.focus()
    dave.keyboard.press("Enter")
    dialog = dave.locator("#event-dialog")
    dialog.wait_for(state="visible")
    assert dave.locator("#ev-title").text_content() == f"Sprint review {tag}"
    assert "every week, 3 times" in dave.locator("#ev-facts").text_content()
    assert "Bob Admin: has not answered" in dave.locator("#ev-attendees").text_content()
    dave.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert dave.evaluate("document.activeElement.classList.contains('chip')")

    # dave cancels the dentist: still listed, struck through.
    _chip(dave, f"Dentist {tag}").click()
    dave.get_by_role("button", name="Edit").click()
    dave.locator("#f-status").select_option("cancelled")
    dave.get_by_role("button", name="Save changes").click()
    dave.locator("#calendar button.chip.status-cancelled", has_text=f"Dentist {tag}").wait_for()
    cancelled = _chip(dave, f"Dentist {tag}")
    assert "status-cancelled" in (cancelled.get_attribute("class") or "")
    decoration = cancelled.locator(".chip-title").evaluate("n => getComputedStyle(n).textDecorationLine")
    assert decoration == "line-through"
    shoot(dave, "calendar-member")

    # bob (admin): dave's private event is busy time, nothing of it in the page; he answers his invitation.
    bob = new_page(timezone_id="Europe/Berlin")
    sign_in(bob, web_url, "bob", keycloak.demo_password, week_path)
    busy = bob.locator("#calendar button.chip.busy")
    busy.first.wait_for()
    assert busy.count() == 1 and "Busy (Dave Member)" in busy.text_content()
    assert f"Dentist {tag}" not in bob.content() and "Smile clinic" not in bob.content()
    busy.click()
    bob.locator("#event-dialog").wait_for(state="visible")
    assert bob.locator("#ev-title").text_content() == "Busy"
    assert bob.get_by_role("button", name="Edit").is_hidden() and bob.get_by_role("button", name="Delete").is_hidden()
    bob.get_by_role("button", name="Close").first.click()
    _chip(bob, f"Sprint review {tag}").click()
    bob.get_by_role("button", name="Accept").click()
    bob.locator("#alert.info", has_text="Accept").wait_for()
    _chip(bob, f"Sprint review {tag}").click()
    assert bob.get_by_role("button", name="Accept").get_attribute("aria-pressed") == "true"
    assert "Bob Admin (you): accepted" in bob.locator("#ev-attendees").text_content()
    # An admin may change members' public events.
    assert bob.get_by_role("button", name="Edit").is_visible()
    bob.keyboard.press("Escape")

    # erin (auditor): reads, sees busy time, has no control.
    erin = new_page(timezone_id="Europe/Berlin")
    sign_in(erin, web_url, "erin", keycloak.demo_password, week_path)
    _chip(erin, f"Sprint review {tag}").wait_for()
    assert erin.get_by_role("link", name="Calendar").is_visible()
    assert erin.get_by_role("button", name="New event", exact=True).is_hidden()
    assert erin.locator("#calendar button.add").count() == 0
    assert erin.locator("#calendar button.chip.busy").count() == 1
    assert f"Dentist {tag}" not in erin.content()
    _chip(erin, f"Sprint review {tag}").click()
    erin.locator("#event-dialog").wait_for(state="visible")
    for control in ("Edit", "Delete", "Accept"):
        assert erin.get_by_role("button", name=control).is_hidden()
    shoot(erin, "calendar-auditor")
