"""SCIM 2.0 Users (RFC 7644 section 3) against the real stack: an organization's identity provider
creates, finds, deactivates and removes its members with the organization's SCIM secret."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import Keycloak, Tokens, create_org

SCIM_JSON = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


async def scim_org(client: httpx.AsyncClient, tokens: Tokens, name: str) -> tuple[str, dict[str, str]]:
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, name)
    made = await client.post(f"/api/v1/orgs/{org['id']}/sso/scim-token", headers=alice)
    assert made.status_code == 201, made.text
    return org["id"], {"Authorization": f"Bearer {made.json()['token']}", "Content-Type": SCIM_JSON}


def rfc_user(user_name: str) -> dict[str, Any]:
    """RFC 7644 section 3.3's creation example, with this test's address."""
    return {
        "schemas": [USER],
        "userName": user_name,
        "externalId": "bjensen",
        "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen", "givenName": "Barbara"},
    }


async def actions(owner_db: Any, org_id: str) -> list[tuple[str, Any]]:
    rows = await owner_db.fetch(
        "SELECT action, resource_id, actor_user_id FROM audit_events WHERE org_id = $1 ORDER BY seq", uuid.UUID(org_id)
    )
    return [(row["action"], row["resource_id"], row["actor_user_id"]) for row in rows]


async def test_create_read_and_filter_users(client: httpx.AsyncClient, tokens: Tokens, owner_db: Any) -> None:
    org_id, scim = await scim_org(client, tokens, "SCIM create")
    base = f"/scim/v2/orgs/{org_id}/Users"
    email = f"bjensen-{uuid.uuid4().hex[:8]}@example.test"

    created = await client.post(base, json=rfc_user(email), headers=scim)
    assert created.status_code == 201, created.text
    assert created.headers["content-type"].startswith(SCIM_JSON)
    user = created.json()
    assert user["schemas"] == [USER]
    assert user["userName"] == email and user["active"] is True
    assert user["displayName"] == "Ms. Barbara J Jensen III"
    assert created.headers["location"].endswith(f"{base}/{user['id']}")

    again = await client.post(base, json=rfc_user(email.upper()), headers=scim)
    assert again.status_code == 409 and again.json()["scimType"] == "uniqueness"

    read = await client.get(f"{base}/{user['id']}", headers=scim)
    assert read.status_code == 200 and read.json()["userName"] == email

    # The membership exists with the organization's default role, visible to the organization's admins.
    members = await client.get(f"/api/v1/orgs/{org_id}/members", headers=await tokens.headers("alice"))
    assert {"email": email, "role": "member", "status": "active"}.items() <= next(
        m for m in members.json()["items"] if m["user_id"] == user["id"]
    ).items()

    found = await client.get(base, params={"filter": f'userName eq "{email.upper()}"'}, headers=scim)
    assert found.status_code == 200, found.text
    listing = found.json()
    assert listing["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    assert listing["totalResults"] == 1 and [r["id"] for r in listing["Resources"]] == [user["id"]]

    nobody = await client.get(base, params={"filter": 'userName eq "nobody@example.test"'}, headers=scim)
    assert nobody.json()["totalResults"] == 0 and nobody.json()["Resources"] == []

    everyone = (await client.get(base, headers=scim)).json()
    assert {r["userName"] for r in everyone["Resources"]} >= {email, "alice@acme.test"}

    for unsupported in ('userName co "jensen"', 'title eq "x"', 'userName eq "a" or userName eq "b"', "userName eq"):
        refused = await client.get(base, params={"filter": unsupported}, headers=scim)
        assert refused.status_code == 400, unsupported
        assert refused.json()["schemas"] == [ERROR] and refused.json()["scimType"] == "invalidFilter"

    unknown = await client.post(base, json=rfc_user(f"x-{email}") | {"favouriteColour": "blue"}, headers=scim)
    assert unknown.status_code == 400 and "favouriteColour" in unknown.json()["detail"]
    bad_patch = await client.patch(
        f"{base}/{user['id']}",
        json={"schemas": [PATCH], "Operations": [{"op": "replace", "path": "shoeSize", "value": 42}]},
        headers=scim,
    )
    assert bad_patch.status_code == 400 and bad_patch.json()["scimType"] == "invalidPath"

    assert ("membership.provisioned", user["id"], None) in await actions(owner_db, org_id)


async def test_deactivation_refuses_a_still_valid_token_and_reactivation_restores(
    client: httpx.AsyncClient, keycloak: Keycloak, owner_db: Any, tokens: Tokens
) -> None:
    org_id, scim = await scim_org(client, tokens, "SCIM deactivate")
    base = f"/scim/v2/orgs/{org_id}/Users"
    username = f"scim{uuid.uuid4().hex[:8]}"
    account = await keycloak.create_user(username)
    created = await client.post(base, json=rfc_user(f"{username}@example.test"), headers=scim)
    assert created.status_code == 201, created.text
    assert created.json()["id"] == str(account)  # the existing Keycloak account is linked

    token = (await keycloak.password_token(username, password="Pa55-word-for-tests"))["access_token"]
    person = {"Authorization": f"Bearer {token}"}
    assert (await client.get(f"/api/v1/orgs/{org_id}", headers=person)).status_code == 200

    # RFC 7644 section 3.5.2's shape, as Azure AD sends it (a string boolean).
    off = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
    patched = await client.patch(f"{base}/{account}", json=off, headers=scim)
    assert patched.status_code == 200, patched.text
    assert patched.json()["active"] is False

    # The same, unexpired token: refused at once, here and anywhere (its sessions were revoked).
    assert (await client.get(f"/api/v1/orgs/{org_id}", headers=person)).status_code in (401, 404)
    assert (await client.get("/api/v1/me", headers=person)).status_code == 401
    assert (await client.get(f"{base}/{account}", headers=scim)).json()["active"] is False

    await asyncio.sleep(1.1)  # a token issued in the revocation's second would still count as revoked
    on = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": True}}]}  # Okta's shape
    assert (await client.patch(f"{base}/{account}", json=on, headers=scim)).json()["active"] is True
    fresh = (await keycloak.password_token(username, password="Pa55-word-for-tests"))["access_token"]
    assert (await client.get(f"/api/v1/orgs/{org_id}", headers={"Authorization": f"Bearer {fresh}"})).status_code == 200

    removed = await client.delete(f"{base}/{account}", headers=scim)
    assert removed.status_code == 204
    gone = await client.get(f"{base}/{account}", headers=scim)
    assert gone.status_code == 404 and gone.json()["schemas"] == [ERROR]
    assert (await client.get(f"/api/v1/orgs/{org_id}", headers={"Authorization": f"Bearer {fresh}"})).status_code == 404

    trail = [action for action, resource_id, _ in await actions(owner_db, org_id) if resource_id == str(account)]
    assert trail == ["membership.provisioned", "membership.suspended", "membership.reactivated", "membership.removed"]


@pytest.mark.parametrize("who", ["other-org", "no-secret", "garbage"])
async def test_another_organizations_secret_gets_404_with_nothing_revealed(
    client: httpx.AsyncClient, tokens: Tokens, who: str
) -> None:
    org_id, scim = await scim_org(client, tokens, "SCIM mine")
    _, other = await scim_org(client, tokens, "SCIM theirs")
    email = f"private-{uuid.uuid4().hex[:8]}@example.test"
    made = await client.post(f"/scim/v2/orgs/{org_id}/Users", json=rfc_user(email), headers=scim)
    assert made.status_code == 201
    headers = {
        "other-org": other,
        "no-secret": {"Content-Type": SCIM_JSON},
        "garbage": {"Authorization": "Bearer wt_scim_nope", "Content-Type": SCIM_JSON},
    }[who]
    base = f"/scim/v2/orgs/{org_id}/Users"
    for response in (
        await client.get(base, params={"filter": f'userName eq "{email}"'}, headers=headers),
        await client.get(f"{base}/{made.json()['id']}", headers=headers),
        await client.post(base, json=rfc_user(f"new-{email}"), headers=headers),
        await client.delete(f"{base}/{made.json()['id']}", headers=headers),
        await client.get(f"/scim/v2/orgs/{uuid.uuid4()}/Users", headers=headers),
    ):
        assert response.status_code == 404
        assert response.json() == {"schemas": [ERROR], "status": "404", "detail": "Not found."}
    still = await client.get(f"{base}/{made.json()['id']}", headers=scim)
    assert still.status_code == 200
