"""Enforced single sign-on: people of the organization's verified domains act in it only with a token
that came through its identity provider; their invitations offer no password; their personal API
tokens work only while their membership is active. Real Keycloak (both realms), Postgres and Redis."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from backend.members import links
from backend.settings import Settings
from tests.conftest import Keycloak, add_member, create_org
from tests.sso.broker import PASSWORD, bearer, broker_login, claims, customer_person, password_person
from tests.sso.conftest import CustomerIdp


async def enforce(client: httpx.AsyncClient, sso: dict[str, Any], on: bool) -> None:
    response = await client.patch(
        f"/api/v1/orgs/{sso['id']}/sso/settings", json={"enforce_sso": on}, headers=sso["headers"]
    )
    assert response.status_code == 200, response.text
    assert response.json()["enforce_sso"] is on


async def test_enforcing_needs_a_provider_and_a_verified_domain(client: httpx.AsyncClient, tokens: Any) -> None:
    org = await create_org(client, await tokens.headers("alice"), name="Not ready")
    response = await client.patch(
        f"/api/v1/orgs/{org['id']}/sso/settings", json={"enforce_sso": True}, headers=await tokens.headers("alice")
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "enforce_sso"
    read = await client.get(f"/api/v1/orgs/{org['id']}/sso/settings", headers=await tokens.headers("alice"))
    assert read.json()["enforce_sso"] is False  # nothing half-written


async def test_a_password_token_of_a_domain_person_is_refused_and_sso_and_personal_tokens_work(
    client: httpx.AsyncClient,
    tokens: Any,
    keycloak: Keycloak,
    customer_idp: CustomerIdp,
    sso: dict[str, Any],
    owner_db: Any,
) -> None:
    org_url = f"/api/v1/orgs/{sso['id']}"
    # Pat has a password account at the organization's domain and is a member; Ian signs in through SSO.
    pat = await password_person(keycloak, f"pat@{sso['domain']}")
    pat_token = await keycloak.password_token(pat, password=PASSWORD)
    pat_id = uuid.UUID(claims(pat_token["access_token"])["sub"])
    await add_member(owner_db, sso["id"], pat_id, "member")
    assert (await client.get(org_url, headers=bearer(pat_token))).status_code == 200
    created = await client.post(
        f"{org_url}/personal-tokens",
        json={"name": "ci", "expires_at": "2027-06-01T00:00:00Z"},
        headers=bearer(pat_token),
    )
    assert created.status_code == 201, created.text
    personal = {"Authorization": f"Bearer {created.json()['token']}"}
    ian = f"ian@{sso['domain']}"
    await customer_person(customer_idp, ian, ["engineers"])
    ian_token = await broker_login(keycloak, sso["alias"], ian)

    await enforce(client, sso, True)
    refused = await client.get(org_url, headers=bearer(pat_token))
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["type"].endswith("/sso-required")
    assert "requires single sign-on" in problem["detail"]
    assert problem["sign_in_url"] == f"/auth/login?kc_idp_hint={sso['alias']}&next=/orgs/{sso['id']}"
    assert (await client.get(f"{org_url}/projects", headers=bearer(pat_token))).status_code == 403
    assert (await client.get("/api/v1/me", headers=bearer(pat_token))).status_code == 200  # only the org refuses

    assert (await client.get(org_url, headers=bearer(ian_token))).status_code == 200  # through the provider
    assert (await client.get(org_url, headers=await tokens.headers("alice"))).status_code == 200  # not the domain
    assert (await client.get(org_url, headers=await tokens.headers("dave"))).status_code == 200

    # Pat's personal API token keeps working while the membership is active, and stops with it.
    assert (await client.get(org_url, headers=personal)).status_code == 200
    await add_member(owner_db, sso["id"], pat_id, "member", status="suspended")
    assert (await client.get(org_url, headers=personal)).status_code in (401, 404)
    await add_member(owner_db, sso["id"], pat_id, "member")
    assert (await client.get(org_url, headers=personal)).status_code == 200

    await enforce(client, sso, False)
    assert (await client.get(org_url, headers=bearer(pat_token))).status_code == 200
    events = await client.get(f"{org_url}/audit-events", params={"limit": 50}, headers=sso["headers"])
    toggles = [e["changes"]["enforce_sso"] for e in events.json()["items"] if e["action"] == "sso_settings.updated"]
    assert toggles == [[True, False], [False, True]]


async def join_page(
    client: httpx.AsyncClient, owner_db: Any, settings: Settings, org_id: str, email: str, *, post: bool = True
) -> str:
    """The invitation page, and (``post``) what asking it for a set-your-password email answers."""
    row = await owner_db.fetchrow(
        "SELECT m.user_id, m.invite_nonce FROM memberships m JOIN users u ON u.id = m.user_id "
        "WHERE m.org_id = $1 AND lower(u.email) = $2",
        uuid.UUID(org_id),
        email,
    )
    assert row is not None and row["invite_nonce"] is not None
    claims_ = links.new_claims(uuid.UUID(org_id), row["user_id"], row["invite_nonce"], days=1)
    token = links.sign(settings.invitation_link_secret, claims_)
    page = await client.get(f"/join/{token}")
    assert page.status_code == 200, page.text
    if not post:
        return page.text
    posted = await client.post(f"/join/{token}/password")
    assert posted.status_code == 200, posted.text
    return page.text + posted.text


async def test_an_invitation_to_a_domain_address_offers_single_sign_on_not_a_password(
    client: httpx.AsyncClient, sso: dict[str, Any], owner_db: Any, settings: Settings
) -> None:
    await enforce(client, sso, True)
    url = f"/api/v1/orgs/{sso['id']}/members/invitations"
    inside, outside = f"new-{uuid.uuid4().hex[:6]}@{sso['domain']}", f"new-{uuid.uuid4().hex[:6]}@example.test"
    for email in (inside, outside):
        invited = await client.post(url, json={"email": email, "role": "member"}, headers=sso["headers"])
        assert invited.status_code == 201, invited.text

    pages = await join_page(client, owner_db, settings, sso["id"], inside)
    assert "Sign in with single sign-on" in pages
    assert f"kc_idp_hint={sso['alias']}" in pages
    assert "Set your password" not in pages and "We sent a link" not in pages
    control = await join_page(client, owner_db, settings, sso["id"], outside, post=False)
    assert "Set your password" in control and "single sign-on" not in control

    mails = await owner_db.fetch(
        "SELECT arguments FROM outbox WHERE actor_name = 'send_mail' AND arguments->>0 = ANY($1::text[])",
        [inside, outside],
    )
    text = {str(m["arguments"]).split('"')[1]: str(m["arguments"]) for m in mails}
    assert "single sign-on" in text[inside] and "set your password" not in text[inside]
    assert "set your password" in text[outside]
