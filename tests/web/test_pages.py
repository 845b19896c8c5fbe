"""The exports, projects and tasks pages, the person's time zone on the timesheet, and the back-channel
logout of web sessions, in headless Chromium against the real Keycloak login page."""

from __future__ import annotations

import hashlib
import json
import random
import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import jwt
import pytest
import redis

from tests.conftest import ACME, DEMO_IDS, Keycloak
from tests.web.conftest import sign_in


def test_erin_exports_the_month_as_csv_watches_the_progress_downloads_it_and_sees_a_verified_manifest(
    web_url: str,
    new_page: Callable[..., Any],
    keycloak: Keycloak,
    demo_orgs: dict[str, uuid.UUID],
    web_worker: subprocess.Popen[bytes],
) -> None:
    org = demo_orgs[ACME]
    erin = new_page(accept_downloads=True)
    sign_in(erin, web_url, "erin", keycloak.demo_password, f"/orgs/{org}/exports")
    assert erin.get_by_role("link", name="Exports", exact=True).is_visible()
    # The period defaults to this month in erin's zone.
    month = erin.input_value("#exp-month")
    assert erin.input_value("#exp-from") == f"{month}-01"
    erin.locator("#exp-kind").select_option("detailed")  # the export form's (schedules have one too)
    erin.locator("#exp-format").select_option("csv")
    erin.get_by_role("button", name="Request export").click()

    # The progress bar follows the worker until the file is ready.
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = erin.text_content("#current-status") or ""
        if status and (not seen or seen[-1] != status):
            seen.append(status)
        if status.startswith(("Done", "Failed")):
            break
        erin.wait_for_timeout(50)
    assert seen and seen[-1].startswith("Done"), seen
    assert any(s.startswith(("Queued", "Running")) for s in seen[:-1]), seen  # watched before it was done
    assert erin.get_attribute("#current-progress", "value") == "100"
    erin.wait_for_selector("#alert.info")
    assert "ready" in (erin.text_content("#alert") or "")

    row = erin.locator("#exports tbody tr[data-export]").first
    with erin.expect_download() as info:
        row.get_by_role("button", name=re.compile("^Download")).click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    data = Path(download.path()).read_bytes()
    assert data.splitlines()[0].startswith(b"date,") or b"," in data.splitlines()[0]
    assert len(data.splitlines()) > 1  # the seeded month has time in it

    # The manifest's hash is the file's, and its signature verifies with the organization's key.
    detail = erin.locator("#exports tr.detail").first
    text = detail.text_content() or ""
    assert hashlib.sha256(data).hexdigest() in text
    assert "The file matches the manifest" in text
    assert detail.locator("[data-signature='valid']").count() == 1, text


def _task_ids(page: Any, title: str) -> str:
    href = page.locator(".card.task", has_text=title).locator("a.ref").get_attribute("href")
    return str(href)


def test_a_contributor_creates_a_task_moves_it_on_the_board_comments_and_attaches_a_file(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID]
) -> None:
    org = demo_orgs[ACME]
    dave = new_page(accept_downloads=True)
    sign_in(dave, web_url, "dave", keycloak.demo_password, f"/orgs/{org}/projects")
    dave.get_by_role("link", name="Website relaunch").click()
    dave.wait_for_selector("body[data-ready='true']")
    assert "contributor" in (dave.text_content("#facts") or "")

    title = f"Browser task {uuid.uuid4().hex[:6]}"
    dave.get_by_label("New task").fill(title)
    dave.get_by_role("button", name="Add task").click()
    dave.wait_for_selector("#alert.info")
    card = dave.locator("#col-todo .card.task", has_text=title)
    ref = card.locator("a.ref").text_content()
    card.get_by_role("button", name=f"Move {ref} to In progress").click()
    dave.locator("#col-in_progress .card.task", has_text=title).wait_for()
    assert dave.locator("#col-todo .card.task", has_text=title).count() == 0
    # Keyboard: the move buttons are real buttons in the tab order.
    moved = dave.locator("#col-in_progress .card.task", has_text=title)
    moved.get_by_role("button", name=f"Move {ref} to Done").focus()
    dave.keyboard.press("Enter")
    dave.locator("#col-done .card.task", has_text=title).wait_for()

    dave.locator("#col-done .card.task", has_text=title).locator("a.ref").click()
    dave.wait_for_selector("body[data-ready='true']")
    assert title in (dave.text_content("h1") or "")
    assert "Done" in (dave.text_content("#task-facts") or "")

    dave.get_by_label("Add a comment").fill("First pass is done.")
    dave.get_by_role("button", name="Post comment").click()
    dave.locator("#comments li", has_text="First pass is done.").wait_for()
    dave.locator("#comments li", has_text="First pass is done.").get_by_role("button", name="Edit").click()
    dave.get_by_label("Edit the comment").fill("First pass is done; review next.")
    dave.get_by_role("button", name="Save comment").click()
    edited = dave.locator("#comments li", has_text="review next.")
    edited.wait_for()
    assert "edited" in (edited.text_content() or "")

    dave.set_input_files("#u-file", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello board"}])
    dave.get_by_role("button", name="Upload").click()
    dave.locator("#attachments a", has_text="notes.txt").wait_for()
    with dave.expect_download() as info:
        dave.locator("#attachments a", has_text="notes.txt").click()
    assert Path(info.value.path()).read_bytes() == b"hello board"
    dave.get_by_role("button", name="Delete notes.txt").click()
    dave.locator("#attachments", has_text="No files.").wait_for()
    edited.get_by_role("button", name="Delete").click()
    dave.locator("#comments", has_text="No comments yet.").wait_for()


def test_a_viewer_sees_no_write_controls(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID]
) -> None:
    org = demo_orgs[ACME]
    erin = new_page()  # the auditor views every project and writes on none
    sign_in(erin, web_url, "erin", keycloak.demo_password, f"/orgs/{org}/projects")
    erin.get_by_role("link", name="Website relaunch").click()
    erin.wait_for_selector("body[data-ready='true']")
    assert erin.locator("#task-form").is_hidden()
    assert erin.locator(".card.task").count() > 0
    assert erin.locator(".card.task button").count() == 0
    assert erin.locator(".card.task[draggable='true']").count() == 0
    erin.locator(".card.task a.ref").first.click()
    erin.wait_for_selector("body[data-ready='true']")
    for form in ("#task-edit", "#comment-form", "#upload-form"):
        assert erin.locator(form).is_hidden(), form
    assert erin.locator("#comments button, #attachments button").count() == 0


def test_the_timesheet_cuts_days_in_the_persons_zone_not_the_browsers(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID]
) -> None:
    org = demo_orgs[ACME]
    number = random.randint(5, 45)
    week = f"2024-W{number:02d}"
    day = date.fromisocalendar(2024, number, random.randint(1, 5)).isoformat()  # a weekday
    # dave's stored zone is Europe/Berlin; his browser says Los Angeles (9 hours behind).
    dave = new_page(timezone_id="America/Los_Angeles")
    sign_in(dave, web_url, "dave", keycloak.demo_password, f"/orgs/{org}/timesheet?week={week}")
    assert dave.text_content("#sheet-zone") == "Europe/Berlin"
    description = f"Zone check {uuid.uuid4().hex[:6]}"
    dave.get_by_label("Project").select_option(label="Mobile app")
    dave.get_by_label("Day").fill(day)
    dave.get_by_label("From").fill("07:00")
    dave.get_by_label("To").fill("08:15")
    dave.get_by_label("Description").fill(description)
    dave.get_by_role("button", name="Save entry").click()
    dave.wait_for_selector("#alert.info, #alert:not(.info):not([hidden])")
    assert dave.get_attribute("#alert", "class") == "alert info", dave.text_content("#alert")
    row = dave.locator("#entries tr", has_text=description)
    row.wait_for()
    # Berlin's 07:00 on that day: read in the browser's zone it would have been 16:00 in Berlin.
    assert day in (row.text_content() or "") and "07:00\u201308:15" in (row.text_content() or "")
    assert "1.25" in (dave.text_content("#week tfoot") or "")
    assert "This browser is in America/Los_Angeles" in (dave.text_content("#browser-zone") or "")

    # He moves to Tokyo: the same instant now reads in Tokyo's wall clock.
    start = datetime.fromisoformat(f"{day}T07:00").replace(tzinfo=ZoneInfo("Europe/Berlin"))
    tokyo = start.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%H:%M")
    csrf = dave.get_attribute('meta[name="csrf-token"]', "content") or ""
    try:
        dave.get_by_label("Your time zone").fill("Asia/Tokyo")
        dave.get_by_role("button", name="Save time zone").click()
        dave.locator("#sheet-zone", has_text="Asia/Tokyo").wait_for()
        assert f"{tokyo}\u2013" in (dave.locator("#entries tr", has_text=description).text_content() or "")
        row.get_by_role("button", name="Delete").click()  # leaves the week as it was, for a re-run
        row.wait_for(state="detached")
    finally:
        restored = dave.request.put(
            f"{web_url}/api/v1/orgs/{org}/time-zone",
            data={"time_zone": "Europe/Berlin"},
            headers={"X-CSRF-Token": csrf},
        )
        assert restored.ok, restored.text()


@pytest.fixture
def bff_backchannel(web_url: str, keycloak: Keycloak) -> Iterator[Callable[..., httpx.Response]]:
    """Point the BFF client's back-channel logout URL at the web app under test (the realm's points
    at the configured WORKTIME_WEB_URL), restoring it afterwards."""
    token = httpx.post(
        f"{keycloak.url}/realms/master/protocol/openid-connect/token",
        data={"grant_type": "password", "client_id": "admin-cli", "username": keycloak.admin_user,
              "password": keycloak.admin_password},
        timeout=30,
    ).json()["access_token"]  # fmt: skip
    base = f"{keycloak.url}/admin/realms/{keycloak.realm}"

    def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.request(method, f"{base}{path}", headers=headers, timeout=30, **kwargs)

    client = call("GET", "/clients", params={"clientId": "worktime-bff"}).json()[0]
    original = json.loads(json.dumps(client))
    client["attributes"] = {
        **client.get("attributes", {}),
        "backchannel.logout.url": f"{web_url}/api/v1/auth/backchannel-logout",
        "backchannel.logout.session.required": "true",
    }
    assert call("PUT", f"/clients/{client['id']}", json=client).status_code == 204
    try:
        yield call
    finally:
        call("PUT", f"/clients/{client['id']}", json=original)


def test_ending_the_keycloak_session_from_the_admin_side_ends_the_web_session(
    web_url: str,
    new_page: Callable[..., Any],
    keycloak: Keycloak,
    demo_orgs: dict[str, uuid.UUID],
    migrated: dict[str, str],
    bff_backchannel: Callable[..., httpx.Response],
) -> None:
    page = new_page()
    sign_in(page, web_url, "erin", keycloak.demo_password, f"/orgs/{demo_orgs[ACME]}/audit")
    session_id = next(c for c in page.context.cookies() if c["name"] == "wt_session")["value"]
    with redis.Redis.from_url(migrated["WORKTIME_REDIS_URL"]) as store:
        stored = json.loads(store.get(f"web:session:{session_id}") or b"{}")
        sid = jwt.decode(stored["access_token"], options={"verify_signature": False})["sid"]
        # An admin signs this Keycloak session out (the console's "Sign out" on the session).
        sessions = bff_backchannel("GET", f"/users/{DEMO_IDS['erin']}/sessions").json()
        assert sid in {s["id"] for s in sessions}
        assert bff_backchannel("DELETE", f"/sessions/{sid}").status_code == 204
        deadline = time.monotonic() + 5
        while store.exists(f"web:session:{session_id}") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not store.exists(f"web:session:{session_id}")  # the web session itself is gone
    page.reload()
    page.wait_for_selector("#signin-form")  # the next page load asks to sign in again
    assert httpx.get(f"{web_url}/api/v1/me", cookies={"wt_session": session_id}).status_code == 401


def test_a_card_changed_by_someone_else_is_not_overwritten_by_a_stale_move(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, uuid.UUID]
) -> None:
    org = demo_orgs[ACME]
    dave = new_page()
    sign_in(dave, web_url, "dave", keycloak.demo_password, f"/orgs/{org}/projects")
    dave.get_by_role("link", name="Website relaunch").click()
    dave.wait_for_selector("body[data-ready='true']")
    title = f"Contested {uuid.uuid4().hex[:6]}"
    dave.get_by_label("New task").fill(title)
    dave.get_by_role("button", name="Add task").click()
    card = dave.locator("#col-todo .card.task", has_text=title)
    card.wait_for()
    ref = card.locator("a.ref").text_content()
    task_url = f"{web_url}{card.locator('a.ref').get_attribute('href')}"

    # Meanwhile carol, the project's lead, marks it urgent on the task page.
    carol = new_page()
    sign_in(carol, web_url, "carol", keycloak.demo_password, task_url.removeprefix(web_url))
    carol.get_by_label("Priority").select_option("urgent")
    carol.get_by_role("button", name="Save task").click()
    carol.wait_for_selector("#alert.info")

    # dave's board still shows the old card: his move is refused, and the board shows carol's change.
    card.get_by_role("button", name=f"Move {ref} to Done").click()
    dave.wait_for_selector("#alert:not(.info):not([hidden])")
    assert "changed" in (dave.text_content("#alert") or "")
    fresh = dave.locator("#col-todo .card.task", has_text=title)
    assert "urgent" in (fresh.text_content() or "")
    fresh.get_by_role("button", name=f"Move {ref} to Done").click()  # now on the current version
    dave.locator("#col-done .card.task", has_text=title).wait_for()
