"""Inviting people by email, end to end through the real Keycloak and a real SMTP server.

An owner invites an address; Keycloak creates (or links) the account and emails the person a link;
the person follows it, chooses a password, signs in, and the invitation turns into an active
membership on their first request in the organization.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from backend.app import create_app
from tests.conftest import Keycloak, Tokens, create_org
from tests.members.conftest import (
    RealmAdmin,
    accept_invitation_in_browser,
    new_email,
    page_text,
    smtp_down,
)
from tests.smtp_sink import ACTION_TOKEN_PATH, SmtpSink, free_port

HEIDI_ID = uuid.UUID("7a1b0000-0000-4000-8000-000000000007")
ALICE_ID = uuid.UUID("7a1b0000-0000-4000-8000-000000000001")


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


async def test_a_new_person_is_invited_signs_up_and_joins(
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

    response = await client.post(invitations(org["id"]), json={"email": email, "role": "member"}, headers=alice)
    assert response.status_code == 201, response.text
    invited = response.json()
    assert invited["email"] == email and invited["role"] == "member" and invited["status"] == "invited"
    listed = (await members(client, org["id"], alice)).get(email)
    assert listed is not None and listed["status"] == "invited" and listed["role"] == "member"
    assert listed["user_id"] == invited["user_id"]

    (event,) = await events(owner_db, org["id"], "membership.invited")
    assert event["actor_user_id"] == ALICE_ID
    assert str(event["resource_id"]) == invited["user_id"]

    # Keycloak created the account with the invitation's actions still to do, and emailed the person.
    (account,) = await realm_admin.users_by_email(email)
    assert account["id"] == invited["user_id"] and account["emailVerified"] is False
    assert set(account["requiredActions"]) == {"VERIFY_EMAIL", "UPDATE_PASSWORD"}
    mail = await mailbox.wait_for(email)
    assert "noreply@worktime.test" in str(mail.message["From"])
    link = mail.action_link()
    assert link.startswith(keycloak.url) and ACTION_TOKEN_PATH in link

    # The person follows the link, chooses a password, and may now sign in with their email.
    # The person follows the link, chooses a password and tells Keycloak their name (the realm's user
    # profile requires one); then they sign in with their email address as the username.
    password = f"Pw-{uuid.uuid4().hex}"
    done = await accept_invitation_in_browser(link, password, first_name="Nina", last_name="Newcomer")
    assert "Your account has been updated" in page_text(done), page_text(done)
    (account,) = await realm_admin.users_by_email(email)
    assert account["emailVerified"] is True and account["requiredActions"] == []
    newbie = await bearer(keycloak, email, password)

    me = await client.get("/api/v1/me", headers=newbie)
    assert me.status_code == 200, me.text
    assert me.json()["email"] == email and me.json()["id"] == invited["user_id"]
    assert me.json()["name"] == "Nina Newcomer" and me.json()["username"] == email

    # Until they accept, the organization is not theirs to use; the invitation waits for them.
    assert (await client.get(f"/api/v1/orgs/{org['id']}", headers=newbie)).status_code == 404
    (pending,) = (await client.get("/api/v1/me/invitations", headers=newbie)).json()
    assert pending["org_id"] == org["id"] and pending["role"] == "member"
    assert pending["invited_by"] == str(ALICE_ID) and pending["org_name"] == org["name"]
    assert (await accept(client, org["id"], newbie))["status"] == "active"
    reached = await client.get(f"/api/v1/orgs/{org['id']}", headers=newbie)
    assert reached.status_code == 200, reached.text
    assert reached.json()["id"] == org["id"]
    assert (await client.get("/api/v1/me/invitations", headers=newbie)).json() == []
    joined = (await members(client, org["id"], alice))[email]
    assert joined["status"] == "active" and joined["role"] == "member" and joined["display_name"] == "Nina Newcomer"
    (accepted,) = await events(owner_db, org["id"], "membership.accepted")
    assert str(accepted["actor_user_id"]) == invited["user_id"]
    # Accepting happens once: a second attempt finds nothing pending and records nothing more.
    again = await client.post(f"/api/v1/orgs/{org['id']}/invitations/accept", headers=newbie)
    assert again.status_code == 404
    assert len(await events(owner_db, org["id"], "membership.accepted")) == 1


async def test_inviting_an_existing_account_links_it(
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

    response = await client.post(
        invitations(org["id"]), json={"email": email.title(), "role": "manager"}, headers=alice
    )
    assert response.status_code == 201, response.text
    invited = response.json()
    assert invited["user_id"] == account_id and invited["email"] == email
    assert invited["display_name"] == "Already There"
    assert invited["status"] == "invited" and invited["role"] == "manager"
    (account,) = await realm_admin.users_by_email(email)  # no second account
    assert account["id"] == account_id and account["requiredActions"] == []
    await mailbox.wait_for(email)  # they are told, too

    # They sign in with the password they already had, accept, and the organization is theirs to use.
    existing = await bearer(keycloak, email, password)
    await accept(client, org["id"], existing)
    reached = await client.get(f"/api/v1/orgs/{org['id']}", headers=existing)
    assert reached.status_code == 200, reached.text
    linked = (await members(client, org["id"], alice))[email]
    assert linked["user_id"] == account_id and linked["status"] == "active" and linked["role"] == "manager"
    assert [e["action"] for e in await events(owner_db, org["id"]) if e["resource_id"] == account_id] == [
        "membership.invited",
        "membership.accepted",
    ]


async def test_inviting_a_demo_user_of_another_org_links_their_account(
    client: httpx.AsyncClient, tokens: Tokens, realm_admin: RealmAdmin, mailbox: SmtpSink, owner_db: Any
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

    heidi = await tokens.headers("heidi")
    await accept(client, org["id"], heidi)
    assert (await client.get(f"/api/v1/orgs/{org['id']}", headers=heidi)).status_code == 200
    linked = (await members(client, org["id"], alice))["heidi@globex.test"]
    assert linked["user_id"] == str(HEIDI_ID) and linked["status"] == "active"
    assert [e["action"] for e in await events(owner_db, org["id"]) if e["resource_id"] == str(HEIDI_ID)] == [
        "membership.invited",
        "membership.accepted",
    ]


async def test_reinviting_is_idempotent_but_a_member_cannot_be_invited_again(
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
    await mailbox.wait_for(email)
    # Same address, different case, new role: the same person and the same (pending) membership.
    second = await client.post(invitations(org["id"]), json={"email": email.upper(), "role": "manager"}, headers=alice)
    assert second.status_code == 201, second.text
    assert second.json()["user_id"] == first.json()["user_id"]
    assert second.json()["status"] == "invited" and second.json()["role"] == "manager"
    assert len(await membership_rows(owner_db, org["id"], email)) == 1
    assert len(await realm_admin.users_by_email(email)) == 1
    (reinvited,) = await events(owner_db, org["id"], "membership.reinvited")
    assert reinvited["actor_user_id"] == ALICE_ID
    assert len(await events(owner_db, org["id"], "membership.invited")) == 1
    # A fresh email with a working link, e.g. when the first one got lost.
    assert ACTION_TOKEN_PATH in await mailbox.wait_for_link(email, count=2)

    # Once the person has joined, inviting them again is a conflict, and changes nothing.
    password = f"Pw-{uuid.uuid4().hex}"
    await accept_invitation_in_browser(await mailbox.wait_for_link(email, count=2), password)
    person = await bearer(keycloak, email, password)
    await accept(client, org["id"], person)
    joined = await client.get(f"/api/v1/orgs/{org['id']}", headers=person)
    assert joined.status_code == 200, joined.text
    audit_before = len(await events(owner_db, org["id"]))
    emails_before = len(mailbox.messages_to(email))

    conflict = await client.post(invitations(org["id"]), json={"email": email, "role": "admin"}, headers=alice)
    assert_problem(conflict, 409)
    assert email in conflict.json()["detail"]
    member = (await members(client, org["id"], alice))[email]
    assert member["status"] == "active" and member["role"] == "manager"
    assert len(await events(owner_db, org["id"])) == audit_before
    assert len(await realm_admin.users_by_email(email)) == 1  # the existing account was not removed
    assert len(mailbox.messages_to(email)) == emails_before


async def test_when_keycloak_cannot_send_mail_nothing_is_left_behind(
    client: httpx.AsyncClient,
    tokens: Tokens,
    realm_admin: RealmAdmin,
    mailbox: SmtpSink,
    owner_db: Any,
) -> None:
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, "Mail Is Down")
    email = new_email("unlucky")
    audit_before = len(await events(owner_db, org["id"]))

    async with smtp_down(realm_admin):
        response = await client.post(invitations(org["id"]), json={"email": email}, headers=alice)
    problem = assert_problem(response, 503)
    assert problem["dependency"] == "keycloak"

    assert email not in await members(client, org["id"], alice)
    assert await membership_rows(owner_db, org["id"], email) == []
    assert await owner_db.fetchval("SELECT count(*) FROM users WHERE email = $1", email) == 0
    assert len(await events(owner_db, org["id"])) == audit_before
    assert await realm_admin.users_by_email(email) == []  # the account made for this attempt is gone
    assert mailbox.messages_to(email) == []

    # Mail works again: the same invitation now goes through, and the person gets their email.
    retry = await client.post(invitations(org["id"]), json={"email": email}, headers=alice)
    assert retry.status_code == 201, retry.text
    assert retry.json()["status"] == "invited"
    assert (await members(client, org["id"], alice))[email]["status"] == "invited"
    assert ACTION_TOKEN_PATH in await mailbox.wait_for_link(email)
    assert [e["action"] for e in await events(owner_db, org["id"])][audit_before:] == ["membership.invited"]


async def test_when_keycloak_fails_for_an_existing_account_it_is_kept(
    client: httpx.AsyncClient, tokens: Tokens, keycloak: Keycloak, realm_admin: RealmAdmin, owner_db: Any
) -> None:
    """The compensation removes only what the failed call created, never a person's own account."""
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, "Mail Down For Existing")
    email, password = new_email("keeper"), f"Pw-{uuid.uuid4().hex}"
    account_id = await realm_admin.create_user(email, password)

    async with smtp_down(realm_admin):
        response = await client.post(invitations(org["id"]), json={"email": email}, headers=alice)
    assert assert_problem(response, 503)["dependency"] == "keycloak"
    (account,) = await realm_admin.users_by_email(email)
    assert account["id"] == account_id and account["enabled"] is True
    assert await membership_rows(owner_db, org["id"], email) == []
    # They can still sign in, but the organization does not know them.
    refused = await client.get(f"/api/v1/orgs/{org['id']}", headers=await bearer(keycloak, email, password))
    assert_problem(refused, 404)


async def test_a_failed_invitation_never_deletes_an_account_it_did_not_create(
    client: httpx.AsyncClient, tokens: Tokens, realm_admin: RealmAdmin
) -> None:
    """Someone's account has the invited address as its username, but another email (e.g. they changed
    it). The lookup by email misses it; whatever happens next, the failed invitation must not delete it."""
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, "Username Clash")
    address = new_email("clash")
    account_id = await realm_admin.create_user(f"changed-{address}", f"Pw-{uuid.uuid4().hex}", username=address)
    async with smtp_down(realm_admin):
        response = await client.post(invitations(org["id"]), json={"email": address}, headers=alice)
    assert_problem(response, 503)
    assert await realm_admin.user_exists(account_id)


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
