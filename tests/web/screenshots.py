"""Screenshots of the main pages for docs/screenshots/ (`make screenshots`).

Runs against a served, seeded stack (WORKTIME_API_URL): headless Debian chromium through Playwright,
signing in on Keycloak's real login page as the demo people."""

from __future__ import annotations

import os
import sys
from datetime import date, timedelta
from typing import Any

from playwright.sync_api import sync_playwright

from tests.infra import ROOT
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, sign_in

OUT = ROOT / "docs" / "screenshots"


def shoot(page: Any, name: str) -> None:
    page.wait_for_selector("body[data-ready]")
    page.wait_for_timeout(300)
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    sys.stdout.write(f"wrote {path.relative_to(ROOT)}\n")


def org_id(page: Any, base: str, name: str = "Acme") -> str:
    page.goto(f"{base}/")
    page.wait_for_selector("body[data-ready]")
    href = page.get_by_role("link", name=name).get_attribute("href")
    return str(href).rsplit("/", 1)[-1]


def sso_shots(browser: Any, base: str, password: str) -> None:
    """The email-first sign-in page, where it sends a Globex address (the seed's globex-idp realm), and
    Globex's single sign-on settings as its owner grace sees them."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, timezone_id="Europe/Berlin")
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(f"{base}/auth/login")
    page.fill("#signin-email", "ian@globex.test")
    page.wait_for_timeout(200)
    path = OUT / "13-sign-in.png"
    page.screenshot(path=str(path), full_page=True)
    sys.stdout.write(f"wrote {path.relative_to(ROOT)}\n")
    page.click("#signin-continue")
    page.wait_for_url("**/realms/globex-idp/**")
    page.wait_for_selector("#kc-form-login")
    path = OUT / "14-sign-in-globex-idp.png"
    page.screenshot(path=str(path), full_page=True)
    sys.stdout.write(f"wrote {path.relative_to(ROOT)}\n")
    context.close()

    context = browser.new_context(viewport={"width": 1280, "height": 800}, timezone_id="Europe/Berlin")
    context.set_default_timeout(20_000)
    grace = context.new_page()
    sign_in(grace, base, "grace", password)
    globex = org_id(grace, base, "Globex")
    grace.goto(f"{base}/orgs/{globex}/sso")
    grace.wait_for_selector("#provider-view:not([hidden])")
    shoot(grace, "15-single-sign-on")
    context.close()


def calendar_shots(dave: Any, base: str, org: str) -> None:
    """dave's week (the seed's standup, a tentative planning, a cancelled lunch, alice's private call as
    busy time), the month, and the planning's dialog (the viewport only: a modal's backdrop covers no more)."""
    dave.goto(f"{base}/orgs/{org}/calendar")
    dave.wait_for_selector("body[data-ready]")
    shoot(dave, "18-calendar-week")
    dave.get_by_role("button", name="Month").click()
    dave.wait_for_selector("#calendar[data-view='month']")
    shoot(dave, "19-calendar-month")
    planning = dave.locator("#calendar button.chip", has_text="Quarterly planning")
    if planning.count():
        planning.first.click()
        dave.locator("#event-dialog").wait_for(state="visible")
        path = OUT / "20-calendar-event.png"
        dave.screenshot(path=str(path))
        sys.stdout.write(f"wrote {path.relative_to(ROOT)}\n")
        dave.keyboard.press("Escape")


_FETCH = """async ([method, path, data]) => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const response = await fetch(`/api/v1${path}`, {
    method, credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
    body: data === null ? undefined : JSON.stringify(data),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.status === 204 ? null : response.json();
}"""


def corrections_shot(alice: Any, base: str, org: str, weeks_back: int = 5) -> None:
    """alice's own entry five weeks back behind a period lock, one correction on it, and the form for a
    second one open: the timesheet's corrections panel. The lock is moved back again afterwards."""
    alice.goto(f"{base}/orgs/{org}/timesheet")
    alice.wait_for_selector("body[data-ready]")

    def call(method: str, path: str, data: Any = None) -> Any:
        return alice.evaluate(_FETCH, [method, f"/orgs/{org}{path}", data])

    year, number, _ = (date.today() - timedelta(weeks=weeks_back)).isocalendar()
    saturday = date.fromisocalendar(year, number, 6).isoformat()
    projects = call("GET", "/projects?limit=100")["items"]
    project = next(p["id"] for p in projects if p["name"] == "Mobile app")
    entry = call(
        "POST",
        "/time-entries",
        {
            "project_id": project,
            "start_at": f"{saturday}T06:00:00Z",
            "end_at": f"{saturday}T08:30:00Z",
            "description": "Release checklist",
        },
    )
    before = call("GET", "/time-lock")["locked_until"]
    call(
        "PUT", "/time-lock", {"locked_until": f"{date.fromisocalendar(year, number, 7) + timedelta(days=1)}T00:00:00Z"}
    )
    try:
        call(
            "POST",
            f"/time-entries/{entry['id']}/corrections",
            {"duration_delta_seconds": -1800, "reason": "The build waited on CI for 30 minutes"},
        )
        alice.goto(f"{base}/orgs/{org}/timesheet?week={year}-W{number:02d}")
        alice.wait_for_selector("body[data-ready]")
        row = alice.locator("#entries tr[data-entry]", has_text="Release checklist")
        row.get_by_role("button", name="Add correction").click()
        alice.wait_for_selector("tr.corrections[data-loaded='1']:not([hidden])")
        panel = alice.locator("tr.corrections:not([hidden])")
        panel.get_by_label("Change in minutes").fill("15")
        panel.get_by_label("Reason").fill("Release notes written afterwards")
        shoot(alice, "29-timesheet-corrections")
    finally:
        call("PUT", "/time-lock", {"locked_until": before})


def worktime_shots(dave: Any, carol: Any, base: str, org: str) -> None:
    """Dave's week 47 with its working time (Saxony's holiday on Wednesday), his absences, and the
    team's absences as carol (a lead) sees them."""
    dave.goto(f"{base}/orgs/{org}/timesheet?week=2026-W47")
    dave.wait_for_selector("#worktime:not([hidden])")
    shoot(dave, "26-timesheet-worktime")
    dave.goto(f"{base}/orgs/{org}/absences")
    shoot(dave, "27-absences")
    carol.goto(f"{base}/orgs/{org}/absences")
    carol.wait_for_selector("body[data-ready]")
    carol.get_by_label("Show").select_option("team")
    carol.get_by_role("heading", name="The team's absences").wait_for()
    carol.wait_for_timeout(300)
    shoot(carol, "28-team-absences")


def main() -> int:
    base = os.environ["WORKTIME_API_URL"].rstrip("/")
    password = os.environ.get("DEMO_PASSWORD", "worktime-demo")
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)

        def person(username: str) -> Any:
            context = browser.new_context(viewport={"width": 1280, "height": 800}, timezone_id="Europe/Berlin")
            context.set_default_timeout(20_000)
            page = context.new_page()
            sign_in(page, base, username, password)
            return page

        alice = person("alice")
        shoot(alice, "01-organizations")
        org = org_id(alice, base)
        alice.goto(f"{base}/orgs/{org}/timer")
        alice.wait_for_selector("body[data-ready]")
        alice.get_by_label("Project").select_option(label="Mobile app")
        alice.get_by_label("What are you working on?").fill("Screenshot session")
        alice.get_by_role("button", name="Start timer").click()
        alice.wait_for_selector("#running:not([hidden])")
        alice.wait_for_timeout(2200)
        shoot(alice, "02-timer")

        # Last week: the seed fills the weeks before this one (dave's last week is submitted).
        year, number, _ = (date.today() - timedelta(days=7)).isocalendar()
        week = f"{year}-W{number:02d}"
        dave = person("dave")
        dave.goto(f"{base}/orgs/{org}/timesheet?week={week}")
        shoot(dave, "03-my-timesheet")

        carol = person("carol")
        carol.goto(f"{base}/orgs/{org}/team?week={week}")
        shoot(carol, "04-team-dashboard")

        bob = person("bob")
        bob.goto(f"{base}/orgs/{org}/members")
        shoot(bob, "05-members")

        alice.goto(f"{base}/orgs/{org}/audit")
        shoot(alice, "06-audit-trail")

        # Projects and tasks: carol's list, dave's board on the website relaunch, a task with its talk.
        carol.goto(f"{base}/orgs/{org}/projects")
        shoot(carol, "08-projects")
        dave.goto(f"{base}/orgs/{org}/projects")
        dave.wait_for_selector("body[data-ready]")
        dave.get_by_role("link", name="Website relaunch").click()
        shoot(dave, "09-task-board")
        dave.locator(".card.task a.ref").first.click()
        dave.wait_for_selector("body[data-ready]")
        if dave.locator("#attachments a", has_text="wireframe-notes.txt").count() == 0:
            dave.set_input_files(
                "#u-file",
                files=[
                    {"name": "wireframe-notes.txt", "mimeType": "text/plain", "buffer": b"Header, hero, three teasers."}
                ],
            )
            dave.get_by_role("button", name="Upload").click()
            dave.locator("#attachments a", has_text="wireframe-notes.txt").wait_for()
        shoot(dave, "10-task")

        # Exports: erin (auditor) exports the month as CSV; the page checks the signed manifest.
        erin = person("erin")
        erin.goto(f"{base}/orgs/{org}/exports")
        erin.wait_for_selector("body[data-ready]")
        erin.get_by_role("button", name="Request export").click()
        erin.wait_for_selector("#alert.info", timeout=120_000)
        shoot(erin, "11-exports")

        # Reminders: bob (admin) on the rules and his own mutes; heidi's bell with the seeded live reminder.
        bob.goto(f"{base}/orgs/{org}/reminders")
        shoot(bob, "16-reminders")
        heidi = person("heidi")
        heidi.get_by_role("button", name="Notifications").click()
        heidi.locator("#bell-menu").wait_for()
        shoot(heidi, "17-bell")

        calendar_shots(dave, base, org)

        # Reports: carol (manager) explores this month by project and person.
        carol.goto(f"{base}/orgs/{org}/reports")
        shoot(carol, "21-reports")

        # Clients (bob, admin: add, edit, archive), alice's notes (a pinned shared one, a private one), and
        # the decisions as bob decides them (a proposal to accept or reject, one superseded).
        bob.goto(f"{base}/orgs/{org}/clients")
        shoot(bob, "22-clients")
        alice.goto(f"{base}/orgs/{org}/notes")
        shoot(alice, "23-notes")
        bob.goto(f"{base}/orgs/{org}/decisions")
        shoot(bob, "24-decisions")
        bob.goto(f"{base}/orgs/{org}/settings")
        shoot(bob, "25-settings")
        corrections_shot(alice, base, org)
        worktime_shots(dave, carol, base, org)

        mobile = browser.new_context(viewport={"width": 390, "height": 844}, timezone_id="Europe/Berlin")
        mobile.set_default_timeout(20_000)
        small = mobile.new_page()
        sign_in(small, base, "dave", password, f"/orgs/{org}/timer")
        shoot(small, "07-timer-phone")
        small.goto(f"{base}/orgs/{org}/projects")
        small.wait_for_selector("body[data-ready]")
        small.get_by_role("link", name="Website relaunch").click()
        shoot(small, "12-task-board-phone")

        sso_shots(browser, base, password)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
