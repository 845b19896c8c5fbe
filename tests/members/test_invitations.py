"""Inviting people by email, end to end through the real Keycloak, a real worker and a real SMTP server.

An admin invites an address; Keycloak creates (or links) the account; the platform emails its own
invitation (org, inviter, role, a signed link into the app) through the outbox and the worker. The
link's page asks Keycloak for a short-lived set-your-password email that returns to the app; the person
sets a password, signs in, accepts, and the organization is theirs to use.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from backend.app import create_app
from backend.members import service as member_service
from tests.conftest import DEMO_IDS, Keycloak, Tokens, create_org
from tests.members.conftest import (
    APP_HOST,
    RealmAdmin,
    accept_invitation_in_browser,
    is_platform_invitation,
    join_link,
    new_email,
    page_text,
)
from tests.smtp_sink import ACTION_TOKEN_PATH, Received, SmtpSink, free_port

HEIDI_ID = uuid.UUID("7a1b0000-0000-4000-8000-000000000007")
ALICE_ID = uuid.UUID("7a1b0000-0000-4000-8000-000000000001")

pytestmark = pytest.mark.usefixtures("mail_worker")


def invitations(org_id: str) -> str:
    return f"/api/v1/orgs/{org_id}/members/invitations"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = dict(response.json())
    assert body["status"] == status and body["title"]
    return body


async def members(client: httpx.AsyncClient, org_id: str, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    response = await client.get(f"/api/v1/orgs/{org_id}/members", params={"limit": 100}, headers=headers)
    assert response.status_code == 200, response.text
    return {m["email"]: m for m in response.json()["items"]}


async def events(owner_db: Any, org_id: str, action: str | None = None) -> list[dict[str, Any]]:
    await owner_db.execute("SELECT set_config('app.org_id', $1, false)", org_id)
    rows = await owner_db.fetch("SELECT * FROM audit_events WHERE org_id = $1 ORDER BY seq", uuid.UUID(org_id))
    return [dict(r) for r in rows if action is None or r["action"] == action]


async def membership_rows(owner_db: Any, org_id: str, email: str) -> list[dict[str, Any]]:
    await owner_db.execute("SELECT set_config('app.org_id', $1, false)", org_id)
    rows = await owner_db.fetch(
        "SELECT m.* FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 AND u.email = $2",
        uuid.UUID(org_id),
        email,
    )
    return [dict(r) for r in rows]


async def bearer(keycloak: Keycloak, username: str, password: str | None = None) -> dict[str, str]:
    issued = await keycloak.password_token(username, password=password)
    return {"Authorization": f"Bearer {issued['access_token']}"}


async def accept(client: httpx.AsyncClient, org_id: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.post(f"/api/v1/orgs/{org_id}/invitations/accept", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def platform_mail(mailbox: SmtpSink, email: str, *, count: int = 1) -> Received:
    """The ``count``-th platform invitation email to ``email``."""
    deadline = time.monotonic() + 30
    while True:
        found = [m for m in mailbox.messages_to(email) if is_platform_invitation(m)]
        if len(found) >= count:
            return found[count - 1]
        assert time.monotonic() < deadline, f"no platform invitation #{count} to {email}"
        await asyncio.sleep(0.1)


async def keycloak_mail(mailbox: SmtpSink, email: str, *, count: int = 1) -> Received:
    deadline = time.monotonic() + 30
    while True:
        found = [m for m in mailbox.messages_to(email) if ACTION_TOKEN_PATH in " ".join(m.bodies())]
        if len(found) >= count:
            return found[count - 1]
        assert time.monotonic() < deadline, f"no Keycloak email #{count} to {email}"
        await asyncio.sleep(0.1)


def path_of(link: str) -> str:
    assert urlsplit(link).netloc == APP_HOST, link
    return urlsplit(link).path


async def open_join(client: httpx.AsyncClient, link: str) -> httpx.Response:
    response = await client.get(path_of(link))
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    return response


def assert_refused_page(response: httpx.Response) -> None:
    """A spent, replaced, revoked or forged link: one plain page, no details, no stack trace."""
    assert response.status_code == 410, response.text
    text = page_text(response)
    assert "This invitation link no longer works" in text
    assert "Traceback" not in response.text and "Set your password" not in text


async def test_a_new_person_is_invited_sets_a_password_and_joins(
    client: httpx.AsyncClient,
    tokens: Tokens,
    keycloak: Keycloak,
    realm_admin: RealmAdmin,
    mailbox: SmtpSink,
    owner_db: Any,
) -> None:
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, "Invites Newcomers")
    email = new_email()

    started = time.monotonic()
    response = await client.post(invitations(org["id"]), json={"email": email, "role": "manager"}, headers=alice)
    answered = time.monotonic() - started
    assert response.status_code == 201, response.text
    invited = response.json()
    assert invited["email"] == email and invited["role"] == "manager" and invited["status"] == "invited"
    (event,) = await events(owner_db, org["id"], "membership.invited")
    assert event["actor_user_id"] == ALICE_ID and str(event["resource_id"]) == invited["user_id"]
    # Keycloak created the account with setup to do, but sent nothing itself.
    (account,) = await realm_admin.users_by_email(email)
    assert account["id"] == invited["user_id"] and account["emailVerified"] is False
    assert set(account["requiredActions"]) == {"VERIFY_EMAIL", "UPDATE_PROFILE", "UPDATE_PASSWORD"}

    # The platform's own email names the organization, the inviter and the role, and links into the app.
    invitation = await platform_mail(mailbox, email)
    delivered = time.monotonic() - started
    print(f"invitation answered in {answered:.3f} s, its email arrived after {delivered:.3f} s")  # noqa: T201
    assert "noreply@worktime.test" in str(invitation.message["From"])
    assert "Alice Owner" in invitation.subject and org["name"] in invitation.subject
    assert [p.get_content_type() for p in invitation.message.walk() if p.get_content_maintype() == "text"] == [
        "text/plain",
        "text/html",
    ]
    for body in invitation.bodies():
        assert "Alice Owner" in body and org["name"] in body and "manager" in body
    link = join_link(invitation)
    assert link.startswith(f"http://{APP_HOST}/join/")
    assert not [m for m in mailbox.messages_to(email) if ACTION_TOKEN_PATH in " ".join(m.bodies())]

    # The link's page says who invited them to what, and offers to set a password (new account).
    began = time.monotonic()
    page = await open_join(client, link)
    print(f"the invitation page took {time.monotonic() - began:.3f} s")  # noqa: T201
    assert page.status_code == 200, page.text
    text = page_text(page)
    assert f"Alice Owner invited you ( {email} ) to join {org['name']} as manager" in text, text
    assert "Set your password" in text and "Sign in to accept" not in text

    # Asking for it makes Keycloak email a short-lived set-password link that returns to the app.
    sent = await client.post(f"{path_of(link)}/password")
    assert sent.status_code == 200, sent.text
    assert "We sent a link" in page_text(sent) and "15 minutes" in page_text(sent)
    setup = await keycloak_mail(mailbox, email)
    action = setup.action_link()
    assert action.startswith(keycloak.url)
    assert "15 minutes" in " ".join(setup.bodies())  # Keycloak states the link's lifespan
    # A second click within the minute sends nothing more.
    again = await client.post(f"{path_of(link)}/password")
    assert again.status_code == 200 and "moments ago" in page_text(again)
    await asyncio.sleep(1)
    assert len([m for m in mailbox.messages_to(email) if ACTION_TOKEN_PATH in " ".join(m.bodies())]) == 1

    password = f"Pw-{uuid.uuid4().hex}"
    back = await accept_invitation_in_browser(
        action, password, first_name="Nina", last_name="Newcomer", app_host=APP_HOST
    )
    # Keycloak's "account updated" page links back to the app's sign-in (no dead end).
    assert page_text(back).startswith(f"APP http://{APP_HOST}/auth/login"), page_text(back)
    (account,) = await realm_admin.users_by_email(email)
    assert account["emailVerified"] is True and account["requiredActions"] == []
    # Keycloak's link cannot be made single-use through its admin API, but the platform will not
    # mint another for an account that is set up: the page now offers to sign in instead.
    assert "Sign in to accept" in page_text(await open_join(client, link))
    refused = await client.post(f"{path_of(link)}/password")
    assert "Set your password" not in page_text(refused) and "Sign in to accept" in page_text(refused)

    newbie = await bearer(keycloak, email, password)
    assert (await client.get(f"/api/v1/orgs/{org['id']}", headers=newbie)).status_code == 404
    (pending,) = (await client.get("/api/v1/me/invitations", headers=newbie)).json()
    assert pending["org_id"] == org["id"] and pending["role"] == "manager"
    assert (await accept(client, org["id"], newbie))["status"] == "active"
    reached = await client.get(f"/api/v1/orgs/{org['id']}", headers=newbie)
    assert reached.status_code == 200, reached.text
    joined = (await members(client, org["id"], alice))[email]
    assert joined["status"] == "active" and joined["display_name"] == "Nina Newcomer"
    # Accepted: the invitation link is spent.
    assert_refused_page(await open_join(client, link))


async def test_an_existing_account_is_linked_and_asked_to_sign_in(
    client: httpx.AsyncClient,
    tokens: Tokens,
    keycloak: Keycloak,
    realm_admin: RealmAdmin,
    mailbox: SmtpSink,
    owner_db: Any,
) -> None:
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, "Links Accounts")
    email, password = new_email("existing"), f"Pw-{uuid.uuid4().hex}"
    account_id = await realm_admin.create_user(email, password)

    response = await client.post(invitations(org["id"]), json={"email": email.title(), "role": "member"}, headers=alice)
    assert response.status_code == 201, response.text
    invited = response.json()
    assert invited["user_id"] == account_id and invited["email"] == email
    assert invited["display_name"] == "Already There"
    (account,) = await realm_admin.users_by_email(email)  # no second account, nothing to set up
    assert account["id"] == account_id and account["requiredActions"] == []

    link = join_link(await platform_mail(mailbox, email))
    page = await open_join(client, link)
    assert page.status_code == 200
    text = page_text(page)
    assert f"to join {org['name']} as member" in text
    assert "Sign in to accept" in text and "Set your password" not in text
    # The page's sign-in goes through the web app's own login and back to its first page.
    assert 'href="/auth/login?next=%2F"' in page.text
    # No Keycloak email can be had for an account that is set up.
    await client.post(f"{path_of(link)}/password")
    await asyncio.sleep(1)
    assert not [m for m in mailbox.messages_to(email) if ACTION_TOKEN_PATH in " ".join(m.bodies())]

    existing = await bearer(keycloak, email, password)
    await accept(client, org["id"], existing)
    assert (await client.get(f"/api/v1/orgs/{org['id']}", headers=existing)).status_code == 200
    assert [e["action"] for e in await events(owner_db, org["id"]) if e["resource_id"] == account_id] == [
        "membership.invited",
        "membership.accepted",
    ]
    assert_refused_page(await open_join(client, link))


async def test_inviting_a_demo_user_of_another_org_links_their_account(
    client: httpx.AsyncClient, tokens: Tokens, realm_admin: RealmAdmin, mailbox: SmtpSink
) -> None:
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, "Borrows From Globex")
    accounts_before = await realm_admin.users_by_email("heidi@globex.test")
    response = await client.post(
        invitations(org["id"]), json={"email": "heidi@globex.test", "role": "member"}, headers=alice
    )
    assert response.status_code == 201, response.text
    assert response.json()["user_id"] == str(HEIDI_ID) and response.json()["status"] == "invited"
    assert await realm_admin.users_by_email("heidi@globex.test") == accounts_before  # linked, not duplicated
    mails = [m for m in mailbox.messages_to("heidi@globex.test") if is_platform_invitation(m)]
    count = len(mails) + (0 if any(org["name"] in m.subject for m in mails) else 1)
    assert org["name"] in (await platform_mail(mailbox, "heidi@globex.test", count=count)).subject

    heidi = await tokens.headers("heidi")
    await accept(client, org["id"], heidi)
    assert (await client.get(f"/api/v1/orgs/{org['id']}", headers=heidi)).status_code == 200


async def test_reinviting_and_resending_replace_the_link_and_members_cannot_be_invited_again(
    client: httpx.AsyncClient,
    tokens: Tokens,
    keycloak: Keycloak,
    realm_admin: RealmAdmin,
    mailbox: SmtpSink,
    owner_db: Any,
) -> None:
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, "Reinvites")
    email = new_email("again")

    first = await client.post(invitations(org["id"]), json={"email": email, "role": "member"}, headers=alice)
    assert first.status_code == 201, first.text
    user_id = first.json()["user_id"]
    first_link = join_link(await platform_mail(mailbox, email))
    # Same address, other case, new role: the same person and pending membership, and a new email
    # whose link replaces the first one.
    started = time.monotonic()
    second = await client.post(invitations(org["id"]), json={"email": email.upper(), "role": "manager"}, headers=alice)
    assert second.status_code == 201, second.text
    assert second.json()["user_id"] == user_id and second.json()["role"] == "manager"
    assert len(await membership_rows(owner_db, org["id"], email)) == 1
    assert len(await realm_admin.users_by_email(email)) == 1
    assert len(await events(owner_db, org["id"], "membership.reinvited")) == 1
    second_mail = await platform_mail(mailbox, email, count=2)
    print(f"a re-invitation's email arrived after {time.monotonic() - started:.3f} s")  # noqa: T201
    second_link = join_link(second_mail)
    assert "manager" in second_mail.bodies()[0]
    assert_refused_page(await open_join(client, first_link))
    assert (await open_join(client, second_link)).status_code == 200

    # Resending at once is refused (one email a minute per invitation) ...
    resend = f"/api/v1/orgs/{org['id']}/invitations/{user_id}/resend"
    too_soon = await client.post(resend, headers=alice)
    assert_problem(too_soon, 429)
    assert 0 < int(too_soon.headers["retry-after"]) <= 60
    # ... but works once the minute is over: a new email, and the previous link stops working.
    await owner_db.execute("SELECT set_config('app.org_id', $1, false)", org["id"])
    await owner_db.execute(
        "UPDATE memberships SET invite_sent_at = invite_sent_at - interval '2 minutes' WHERE org_id = $1",
        uuid.UUID(org["id"]),
    )
    resent = await client.post(resend, headers=alice)
    assert resent.status_code == 200, resent.text
    assert resent.json()["status"] == "invited" and resent.json()["role"] == "manager"
    third_link = join_link(await platform_mail(mailbox, email, count=3))
    assert_refused_page(await open_join(client, second_link))
    assert (await open_join(client, third_link)).status_code == 200
    (resent_event,) = await events(owner_db, org["id"], "membership.invitation_resent")
    assert resent_event["actor_user_id"] == ALICE_ID and str(resent_event["resource_id"]) == user_id

    listed = await client.get(f"/api/v1/orgs/{org['id']}/invitations", headers=alice)
    assert listed.status_code == 200, listed.text
    (pending,) = listed.json()
    assert pending["user_id"] == user_id and pending["email"] == email and pending["role"] == "manager"
    assert pending["invited_by"] == str(ALICE_ID) and pending["last_sent_at"]

    # Once the person has joined: no more invitations, resends or revocations, and nothing changes.
    await client.post(f"{path_of(third_link)}/password")
    password = f"Pw-{uuid.uuid4().hex}"
    await accept_invitation_in_browser((await keycloak_mail(mailbox, email)).action_link(), password, app_host=APP_HOST)
    person = await bearer(keycloak, email, password)
    await accept(client, org["id"], person)
    audit_before = len(await events(owner_db, org["id"]))
    mails_before = len(mailbox.messages_to(email))
    conflict = await client.post(invitations(org["id"]), json={"email": email, "role": "admin"}, headers=alice)
    assert email in assert_problem(conflict, 409)["detail"]
    assert_problem(await client.post(resend, headers=alice), 409)
    assert_problem(await client.delete(f"/api/v1/orgs/{org['id']}/invitations/{user_id}", headers=alice), 409)
    member = (await members(client, org["id"], alice))[email]
    assert member["status"] == "active" and member["role"] == "manager"
    assert len(await events(owner_db, org["id"])) == audit_before
    assert (await client.get(f"/api/v1/orgs/{org['id']}/invitations", headers=alice)).json() == []
    await asyncio.sleep(1)
    assert len(mailbox.messages_to(email)) == mails_before


async def test_a_revoked_invitation_and_a_forged_link_get_a_plain_page(
    client: httpx.AsyncClient, tokens: Tokens, keycloak: Keycloak, mailbox: SmtpSink, owner_db: Any
) -> None:
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, "Revokes")
    email = new_email("revoked")
    invited = await client.post(invitations(org["id"]), json={"email": email}, headers=alice)
    user_id = invited.json()["user_id"]
    link = join_link(await platform_mail(mailbox, email))
    assert (await open_join(client, link)).status_code == 200

    revoked = await client.delete(f"/api/v1/orgs/{org['id']}/invitations/{user_id}", headers=alice)
    assert revoked.status_code == 204, revoked.text
    (event,) = await events(owner_db, org["id"], "membership.invitation_revoked")
    assert event["actor_user_id"] == ALICE_ID and email in str(event["changes"])
    assert email not in await members(client, org["id"], alice)
    assert_refused_page(await open_join(client, link))
    assert_refused_page(await client.post(f"{path_of(link)}/password"))
    # Gone means gone: revoking or resending again is a 404.
    assert_problem(await client.delete(f"/api/v1/orgs/{org['id']}/invitations/{user_id}", headers=alice), 404)
    assert_problem(await client.post(f"/api/v1/orgs/{org['id']}/invitations/{user_id}/resend", headers=alice), 404)

    # Tampered, truncated, foreign-signed or nonsense links: the same page.
    payload, mac = path_of(link).removeprefix("/join/").split(".")
    for token in (f"{payload}.{mac[:-2]}AA", payload, "x" * 5000, "%00%3Cscript%3E", f"{payload[:-4]}.{mac}"):
        assert_refused_page(await client.get(f"/join/{token}"))


async def test_resend_and_revoke_need_the_right_role_and_stay_in_their_tenant(
    client: httpx.AsyncClient, tokens: Tokens, demo_orgs: dict[str, uuid.UUID], mailbox: SmtpSink, owner_db: Any
) -> None:
    acme = str(demo_orgs["acme"])
    alice, carol, dave, grace = [await tokens.headers(n) for n in ("alice", "carol", "dave", "grace")]
    email = new_email("guarded")
    invited = await client.post(invitations(acme), json={"email": email}, headers=alice)
    assert invited.status_code == 201, invited.text
    user_id = invited.json()["user_id"]
    resend = f"/api/v1/orgs/{acme}/invitations/{user_id}/resend"
    revoke = f"/api/v1/orgs/{acme}/invitations/{user_id}"
    listing = f"/api/v1/orgs/{acme}/invitations"
    await platform_mail(mailbox, email)

    # A member may do none of it; another tenant's owner learns nothing (404, as for any stranger).
    for method, path in (("POST", resend), ("DELETE", revoke), ("GET", listing)):
        assert_problem(await client.request(method, path, headers=dave), 403)
        assert_problem(await client.request(method, path, headers=grace), 404)
    # A manager may resend (as they may invite) but not revoke (as they may not remove members).
    assert_problem(await client.delete(revoke, headers=carol), 403)
    assert_problem(await client.post(resend, headers=carol), 429)  # past authorization: the minute
    assert any(p["user_id"] == user_id for p in (await client.get(listing, headers=carol)).json())
    # Globex's owner cannot touch acme's invitation through her own organization either.
    globex = str(demo_orgs["globex"])
    assert_problem(await client.delete(f"/api/v1/orgs/{globex}/invitations/{user_id}", headers=grace), 404)
    # Not an invitation: unknown people are a 404; active members a 409.
    assert_problem(await client.post(f"/api/v1/orgs/{acme}/invitations/{uuid.uuid4()}/resend", headers=alice), 404)
    assert_problem(await client.delete(f"/api/v1/orgs/{acme}/invitations/{DEMO_IDS['dave']}", headers=alice), 409)
    assert (await client.delete(revoke, headers=alice)).status_code == 204


async def test_a_rolled_back_invitation_sends_nothing_and_removes_the_account_it_made(
    client: httpx.AsyncClient,
    tokens: Tokens,
    realm_admin: RealmAdmin,
    mailbox: SmtpSink,
    owner_db: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The email is queued in the invitation's transaction (the outbox): when anything later in that
    transaction fails, the row, the audit event and the email all disappear together."""
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, "Rolls Back")
    email = new_email("rolled")
    clash = new_email("clash")
    clash_id = await realm_admin.create_user(f"changed-{clash}", f"Pw-{uuid.uuid4().hex}", username=clash)
    audit_before = len(await events(owner_db, org["id"]))

    def fail(*_: Any) -> Any:
        raise RuntimeError("boom after the email was queued")

    monkeypatch.setattr(member_service, "_read", fail)
    for address in (email, clash):
        try:
            response = await client.post(invitations(org["id"]), json={"email": address}, headers=alice)
            assert response.status_code == 500, response.text
        except RuntimeError:
            pass
    monkeypatch.undo()

    assert await membership_rows(owner_db, org["id"], email) == []
    assert await owner_db.fetchval("SELECT count(*) FROM users WHERE email = $1", email) == 0
    assert len(await events(owner_db, org["id"])) == audit_before
    assert await realm_admin.users_by_email(email) == []  # the account made for this attempt is gone
    # Someone's account whose username is the address (their email changed) was not ours to delete.
    assert await realm_admin.user_exists(clash_id)
    await asyncio.sleep(3)  # the worker is running: nothing arrives
    assert mailbox.messages_to(email) == [] and mailbox.messages_to(clash) == []

    # The same invitation now goes through, and the person gets their email.
    retry = await client.post(invitations(org["id"]), json={"email": email}, headers=alice)
    assert retry.status_code == 201, retry.text
    await platform_mail(mailbox, email)


@pytest.fixture
async def client_without_keycloak_admin(settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    broken = settings.model_copy(update={"keycloak_admin_url": f"http://127.0.0.1:{free_port()}"})
    app = create_app(broken)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            yield http


async def test_when_the_keycloak_admin_api_is_unreachable_nothing_is_written(
    client: httpx.AsyncClient,
    client_without_keycloak_admin: httpx.AsyncClient,
    tokens: Tokens,
    realm_admin: RealmAdmin,
    owner_db: Any,
) -> None:
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, "Keycloak Admin Down")
    email = new_email("nobody")
    audit_before = len(await events(owner_db, org["id"]))

    response = await client_without_keycloak_admin.post(invitations(org["id"]), json={"email": email}, headers=alice)
    problem = assert_problem(response, 503)
    assert problem["dependency"] == "keycloak"
    assert "127.0.0.1" not in response.text  # no internals leak to the caller

    assert await membership_rows(owner_db, org["id"], email) == []
    assert await owner_db.fetchval("SELECT count(*) FROM users WHERE email = $1", email) == 0
    assert len(await events(owner_db, org["id"])) == audit_before
    assert await realm_admin.users_by_email(email) == []
    # The rest of the API still works on that app: only the invitation needed Keycloak's admin side.
    listed = await client_without_keycloak_admin.get(f"/api/v1/orgs/{org['id']}/members", headers=alice)
    assert listed.status_code == 200 and [m["email"] for m in listed.json()["items"]] == ["alice@acme.test"]


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "role": "member"},
        {"email": "", "role": "member"},
        {"role": "member"},
        {"email": "someone@example.test", "role": "emperor"},
        {"email": "someone@example.test", "role": "member", "admin": True},
    ],
    ids=["bad-email", "empty-email", "no-email", "unknown-role", "unknown-field"],
)
async def test_invalid_invitations_are_rejected(
    client: httpx.AsyncClient, tokens: Tokens, demo_orgs: dict[str, uuid.UUID], owner_db: Any, body: dict[str, Any]
) -> None:
    alice = await tokens.headers("alice")
    org_id = str(demo_orgs["acme"])
    audit_before = len(await events(owner_db, org_id))
    response = await client.post(invitations(org_id), json=body, headers=alice)
    assert_problem(response, 422)
    assert len(await events(owner_db, org_id)) == audit_before


async def test_an_invitation_link_is_rate_limited_per_link(
    client: httpx.AsyncClient, tokens: Tokens, mailbox: SmtpSink
) -> None:
    """Each view asks the database and Keycloak: a link hammered in a loop gets a plain 429 page."""
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, "Hammered Link")
    email = new_email("hammered")
    assert (await client.post(invitations(org["id"]), json={"email": email}, headers=alice)).status_code == 201
    link = join_link(await platform_mail(mailbox, email))
    statuses = [(await client.get(path_of(link))).status_code for _ in range(31)]
    assert statuses == [200] * 30 + [429]
    busy = await client.get(path_of(link))
    assert busy.headers["retry-after"] == "60" and "opened very often" in page_text(busy)
    assert "Traceback" not in busy.text
