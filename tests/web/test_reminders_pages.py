"""Reminders in the browser, per role: the header's bell (unread count, dropdown, mark read) and the
notifications page; the reminders page (everyone's own mutes; rules created, edited, disabled by admins,
read-only for the auditor, absent for members); the exports page's scheduled exports (auditors create and
delete them; members never see the section). Screenshots go to $WORKTIME_WEB_SHOTS when it is set."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ACME, DEMO_IDS, Keycloak
from tests.web.conftest import sign_in

SHOTS = os.environ.get("WORKTIME_WEB_SHOTS")


def shoot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def _notify(owner_url: str, org_id: uuid.UUID, user_id: uuid.UUID, title: str) -> uuid.UUID:
    """Test set-up: one unread notification for a person, as the evaluator writes an item reminder."""
    import asyncio

    import asyncpg

    async def insert() -> uuid.UUID:
        db = await asyncpg.connect(owner_url.replace("postgresql+asyncpg://", "postgresql://", 1))
        try:
            await db.execute("SELECT set_config('app.org_id', $1, false)", str(org_id))
            await db.execute("SELECT set_config('app.user_id', $1, false)", str(user_id))
            note = uuid.uuid4()
            await db.execute(
                "INSERT INTO notifications (org_id, id, user_id, item_key, kind, period, title, body, link, created_at)"
                " VALUES ($1, $2, $3, $4, 'task_reminder', 'p', $5, 'Timesheets wait for you.', $6, now())",
                org_id,
                note,
                user_id,
                f"task:{uuid.uuid4()}",
                title,
                f"http://127.0.0.1/orgs/{org_id}/team",
            )
            return note
        finally:
            await db.close()

    # In a thread of its own: Playwright's sync API holds this thread's event loop.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, insert()).result()


def _unread(page: Any) -> int:
    badge = page.locator("#bell-count")
    return 0 if badge.is_hidden() else int(badge.text_content() or "0")


def test_the_bell_counts_unread_notifications_and_marks_them_read(
    web_url: str,
    new_page: Callable[..., Any],
    keycloak: Keycloak,
    demo_orgs: dict[str, uuid.UUID],
    migrated: dict[str, str],
) -> None:
    org = demo_orgs[ACME]
    title = f"Approvals {uuid.uuid4().hex[:6]}"
    _notify(migrated["WORKTIME_DATABASE_OWNER_URL"], org, DEMO_IDS["carol"], title)
    carol = new_page()
    sign_in(carol, web_url, "carol", keycloak.demo_password, f"/orgs/{org}/timer")
    before = _unread(carol)
    assert before >= 1
    assert carol.get_attribute("#bell", "aria-label") == f"Notifications, {before} unread"
    carol.get_by_role("button", name="Notifications").click()
    menu = carol.locator("#bell-menu")
    menu.wait_for()
    assert carol.get_attribute("#bell", "aria-expanded") == "true"
    entry = menu.locator("li.notification", has_text=title)
    assert "unread" in (entry.get_attribute("class") or "")
    assert entry.get_by_role("link", name=title).get_attribute("href") == f"/orgs/{org}/team"
    shoot(carol, "bell-open")
    entry.get_by_role("button", name=re.compile(rf"^Mark read\W+{re.escape(title)}$")).click()
    carol.locator("#bell-menu li.notification:not(.unread)", has_text=title).wait_for()
    assert _unread(carol) == before - 1
    carol.keyboard.press("Escape")
    assert menu.is_hidden()

    # The notifications page lists it (read) with its organization; "unread only" leaves it out.
    carol.get_by_role("button", name="Notifications").click()
    carol.get_by_role("link", name="See all", exact=True).click()
    carol.wait_for_selector("body[data-ready='true']")
    row = carol.locator("#notifications li", has_text=title)
    assert "Acme" in (row.text_content() or "")
    assert row.get_by_role("button").count() == 0  # read already
    carol.get_by_label("Unread only").check()
    carol.locator("#notifications li", has_text=title).wait_for(state="detached")

    # Read through the API as well: the browser's click reached the server.
    session = next(c for c in carol.context.cookies() if c["name"] == "wt_session")["value"]
    answer = httpx.get(f"{web_url}/api/v1/me/notifications?limit=100", cookies={"wt_session": session})
    [seen] = [n for n in answer.json()["items"] if n["title"] == title]
    assert seen["read"] is True


def test_admin_creates_edits_and_disables_a_rule_and_everyone_sets_their_own_mutes(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID]
) -> None:
    org = demo_orgs[ACME]
    bob = new_page()
    bob.on("dialog", lambda dialog: dialog.accept())
    sign_in(bob, web_url, "bob", keycloak.demo_password, f"/orgs/{org}/reminders")
    assert bob.get_by_role("link", name="Reminders", exact=True).is_visible()
    name = f"Long timers {uuid.uuid4().hex[:6]}"
    bob.locator("#r-kind").select_option("timer_running")
    assert bob.locator("#r-days").is_hidden()  # a timer rule has no weekdays or time
    bob.locator("#r-name").fill(name)
    bob.locator("#r-hours").fill("3")
    bob.get_by_role("button", name="Add rule").click()
    row = bob.locator("#rules tbody tr", has_text=name)
    row.wait_for()
    assert "longer than 3 h" in (row.text_content() or "")
    assert "enabled" in (row.text_content() or "")

    row.get_by_role("button", name=f"Edit {name}").click()
    assert bob.locator("#r-kind").is_disabled()  # a rule's kind is fixed
    bob.locator("#r-hours").fill("5")
    bob.get_by_role("button", name="Save rule").click()
    bob.locator("#rules tbody tr", has_text="longer than 5 h").wait_for()
    bob.locator("#rules tbody tr", has_text=name).get_by_role("button", name=f"Disable {name}").click()
    bob.locator("#rules tbody tr", has_text=name).get_by_role("button", name=f"Enable {name}").wait_for()
    assert "disabled" in (bob.locator("#rules tbody tr", has_text=name).text_content() or "")

    # A bad value is refused in plain words (no weekday chosen).
    bob.locator("#r-kind").select_option("no_time_logged")
    for day in bob.locator("#r-days input").all():
        day.uncheck()
    bob.get_by_role("button", name="Add rule").click()
    bob.wait_for_selector("#alert:not(.info):not([hidden])")
    assert "at least one weekday" in (bob.text_content("#alert") or "")

    # bob's own mutes: unticking a kind mutes it for him, and it stays so after a reload.
    bob.get_by_label("Timer running too long", exact=True).uncheck()
    bob.get_by_role("button", name="Save my choices").click()
    bob.locator("#alert.info", has_text="Muted here: Timer running too long").wait_for()
    shoot(bob, "reminders-admin")
    bob.reload()
    bob.wait_for_selector("body[data-ready='true']")
    assert not bob.get_by_label("Timer running too long", exact=True).is_checked()
    assert bob.get_by_label("No time logged today", exact=True).is_checked()
    bob.get_by_label("Timer running too long", exact=True).check()
    bob.get_by_role("button", name="Save my choices").click()
    bob.locator("#alert.info", has_text="You receive every kind").wait_for()

    # Delete the rule again (a confirm dialog, accepted).
    bob.locator("#rules tbody tr", has_text=name).get_by_role("button", name=f"Delete {name}").click()
    bob.locator("#rules tbody tr", has_text=name).wait_for(state="detached")


def test_a_member_mutes_for_themselves_and_sees_no_rules_and_the_auditor_reads_them(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID]
) -> None:
    org = demo_orgs[ACME]
    dave = new_page()
    sign_in(dave, web_url, "dave", keycloak.demo_password, f"/orgs/{org}/reminders")
    assert dave.locator("#rules-section").is_hidden()
    dave.get_by_label("Event reminders", exact=True).uncheck()
    dave.get_by_role("button", name="Save my choices").click()
    dave.locator("#alert.info", has_text="Muted here: Event reminders").wait_for()
    shoot(dave, "reminders-member")
    session = next(c for c in dave.context.cookies() if c["name"] == "wt_session")["value"]
    mutes = httpx.get(f"{web_url}/api/v1/orgs/{org}/me/reminder-mutes", cookies={"wt_session": session})
    assert mutes.json()["muted"] == ["event_reminder"]
    csrf = dave.get_attribute('meta[name="csrf-token"]', "content") or ""
    reset = httpx.put(
        f"{web_url}/api/v1/orgs/{org}/me/reminder-mutes",
        json={"muted": []},
        cookies={"wt_session": session},
        headers={"X-CSRF-Token": csrf},
    )
    assert reset.status_code == 200

    erin = new_page()
    sign_in(erin, web_url, "erin", keycloak.demo_password, f"/orgs/{org}/reminders")
    erin.locator("#rules tbody tr", has_text="Log your day").wait_for()  # the seeded rule
    assert erin.locator("#rule-form").is_hidden()
    assert erin.locator("#rules tbody tr").first.get_by_role("button").count() == 0
    assert erin.locator("#mutes-panel").is_visible()


def test_an_auditor_schedules_and_deletes_an_export_and_a_member_sees_no_schedules(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID]
) -> None:
    org = demo_orgs[ACME]
    erin = new_page(timezone_id="Europe/Berlin")
    erin.on("dialog", lambda dialog: dialog.accept())
    sign_in(erin, web_url, "erin", keycloak.demo_password, f"/orgs/{org}/exports")
    erin.locator("#schedules-section").wait_for()
    name = f"Weekly hours {uuid.uuid4().hex[:6]}"
    erin.locator("#s-name").fill(name)
    erin.locator("#s-cadence").select_option("weekly")
    assert erin.locator("#s-period").input_value() == "previous_week"
    erin.locator("#s-weekday").select_option("1")
    erin.locator("#s-time").fill("07:30")
    recipients = erin.locator("#s-recipients")
    # Plain members may not receive an organization-wide export: they are not offered.
    assert recipients.locator("option", has_text="(member)").count() == 0
    auditor = next(o for o in recipients.locator("option").all_text_contents() if "(auditor)" in o)
    recipients.select_option(label=auditor)
    erin.get_by_role("button", name="Add schedule").click()
    row = erin.locator("#schedules tbody tr", has_text=name)
    row.wait_for()
    assert "weekly, Monday at 07:30" in (row.text_content() or "")
    shoot(erin, "export-schedules")

    # A time that does not exist is refused by the API, shown in plain words.
    erin.locator("#s-zone").fill("Mars/Olympus")
    erin.get_by_role("button", name="Add schedule").click()
    erin.wait_for_selector("#alert:not(.info):not([hidden])")
    assert "zone" in (erin.text_content("#alert") or "").lower()

    row.get_by_role("button", name=f"Delete the schedule {name}").click()
    erin.locator("#schedules tbody tr", has_text=name).wait_for(state="detached")

    dave = new_page()
    sign_in(dave, web_url, "dave", keycloak.demo_password, f"/orgs/{org}/exports")
    assert dave.locator("#schedules-section").is_hidden()
