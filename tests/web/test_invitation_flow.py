"""The invitation as a new person meets it, in headless Chromium, with the real services: the admin's
API call, the platform's email in the SMTP sink, its link into the app, Keycloak's set-password email
(short-lived, returning to the app), signing in, accepting, and a signed-in call in the organization."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Keycloak, unique_slug
from tests.members.conftest import (  # noqa: F401  (fixtures: the sink, with the realm's SMTP pointed at it)
    join_link,
    mailbox,
    new_email,
    realm_admin,
    smtp_sink,
    start_mail_worker,
    stop_worker,
)
from tests.smtp_sink import ACTION_TOKEN_PATH, Received, SmtpSink
from tests.web.conftest import submit_keycloak_login

SHOTS = Path(__file__).resolve().parents[2] / ".data" / "screenshots" / "invitation"


@pytest.fixture
def worker(migrated: dict[str, str], mailbox: SmtpSink) -> Iterator[None]:  # noqa: F811
    process = start_mail_worker(migrated, mailbox)
    yield
    stop_worker(process)


def wait_for_mail(sink: SmtpSink, address: str, wanted: Callable[[Received], bool]) -> Received:
    deadline = time.monotonic() + 30
    while True:
        found = [m for m in sink.messages_to(address) if wanted(m)]
        if found:
            return found[-1]
        assert time.monotonic() < deadline, f"no such email to {address}: {[m.subject for m in sink.messages]}"
        time.sleep(0.2)


def token_for(keycloak: Keycloak, username: str, password: str) -> dict[str, str]:
    response = httpx.post(
        keycloak.token_url,
        data={"grant_type": "password", "client_id": "worktime-cli", "username": username, "password": password},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_a_new_person_follows_the_email_sets_a_password_signs_in_and_works_in_the_org(
    web_url: str,
    new_page: Callable[..., Any],
    keycloak: Keycloak,
    mailbox: SmtpSink,  # noqa: F811
    worker: None,
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    api = httpx.Client(base_url=web_url, timeout=30)
    alice = token_for(keycloak, "alice", keycloak.demo_password)
    org = api.post("/api/v1/orgs", json={"name": "Browser Invites", "slug": unique_slug()}, headers=alice).json()
    email, password = new_email("browser"), f"Pw-{uuid.uuid4().hex}"

    invited = api.post(
        f"/api/v1/orgs/{org['id']}/members/invitations", json={"email": email, "role": "manager"}, headers=alice
    )
    assert invited.status_code == 201, invited.text

    # The platform's email: organization, inviter and role, and a link into the app.
    invitation = wait_for_mail(mailbox, email, lambda m: "/join/" in " ".join(m.bodies()))
    text = invitation.bodies()[0]
    assert "Alice Owner" in text and '"Browser Invites"' in text and "manager" in text
    link = join_link(invitation)
    assert link.startswith(f"{web_url}/join/")

    page = new_page()
    page.goto(link)
    assert "Alice Owner invited you" in page.text_content("#join-invitation")
    assert "Browser Invites" in page.text_content("#join-invitation")
    page.screenshot(path=str(SHOTS / "1-join.png"))
    page.get_by_role("button", name="Set your password").click()
    page.wait_for_selector("#join-message")
    assert "15 minutes" in page.text_content("#join-message")

    # Keycloak's email (short-lived action link) -> its pages -> back to the app's sign-in.
    setup = wait_for_mail(mailbox, email, lambda m: ACTION_TOKEN_PATH in " ".join(m.bodies()))
    page.goto(setup.action_link())
    for _ in range(6):
        if page.locator("#password-new").count():
            page.screenshot(path=str(SHOTS / "2-password.png"))
            page.fill("#password-new", password)
            page.fill("#password-confirm", password)
            page.locator("input[type=submit], button[type=submit]").first.click()
        elif page.locator("#firstName").count():
            page.screenshot(path=str(SHOTS / "3-profile.png"))
            # UPDATE_PROFILE in the invitation's actions: no red "required" errors before typing (the
            # automatic VERIFY_PROFILE form showed them).
            assert "Please specify this field" not in page.content()
            page.fill("#firstName", "Browser")
            page.fill("#lastName", "Newcomer")
            page.locator("input[type=submit], button[type=submit]").first.click()
        elif page.get_by_role("link", name=re.compile("proceed", re.I)).count():
            page.get_by_role("link", name=re.compile("proceed", re.I)).click()
        elif page.get_by_role("link", name=re.compile("back to application", re.I)).count():
            page.screenshot(path=str(SHOTS / "4-updated.png"))
            page.get_by_role("link", name=re.compile("back to application", re.I)).click()
            break
        page.wait_for_load_state()
    else:
        raise AssertionError(f"Keycloak's pages did not lead back to the app: {page.url}\n{page.content()[:2000]}")

    # The app's sign-in (Keycloak's login form), then the first page with the invitation waiting.
    submit_keycloak_login(page, email, password)
    page.wait_for_url(f"{web_url}/**")
    page.wait_for_selector("body[data-ready]")
    page.wait_for_selector("#invitations-section:not([hidden])")
    assert "Browser Invites" in page.text_content("#invitations")
    page.screenshot(path=str(SHOTS / "5-home.png"))
    page.get_by_role("button", name="Accept").click()
    page.wait_for_url(f"{web_url}/orgs/{org['id']}/**")
    page.wait_for_selector("body[data-ready]")

    # Signed in and a member: the organization answers the browser's session and the person's token.
    status = page.evaluate(f"fetch('/api/v1/orgs/{org['id']}/members').then(r => r.status)")
    assert status == 200
    newcomer = token_for(keycloak, email, password)
    reached = api.get(f"/api/v1/orgs/{org['id']}/projects", headers=newcomer)
    assert reached.status_code == 200, reached.text
    members = api.get(f"/api/v1/orgs/{org['id']}/members", headers=alice).json()["items"]
    (joined,) = [m for m in members if m["email"] == email]
    assert joined["status"] == "active" and joined["role"] == "manager"
    # The link has done its job: now it is a plain "no longer works" page.
    page.goto(link)
    assert "no longer works" in page.text_content("#join-message")
