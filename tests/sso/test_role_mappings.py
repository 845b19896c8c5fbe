"""Just-in-time membership and claim-to-role mappings, with people signing in for real: the platform's
Keycloak brokers to the ``globex-idp`` realm (the customer's IdP), whose ``groups`` claim reaches the
access token through the identity-provider mapper and the realm's protocol mapper."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.conftest import DEMO_IDS, Keycloak, add_member, create_org
from tests.sso.broker import bearer, broker_login, claims, customer_person, set_groups
from tests.sso.conftest import CustomerIdp


async def members(client: httpx.AsyncClient, sso: dict[str, Any]) -> dict[str, dict[str, Any]]:
    response = await client.get(f"/api/v1/orgs/{sso['id']}/members", params={"limit": 200}, headers=sso["headers"])
    assert response.status_code == 200, response.text
    return {m["email"]: m for m in response.json()["items"]}


async def audit_actions(client: httpx.AsyncClient, sso: dict[str, Any], user_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/orgs/{sso['id']}/audit-events", params={"limit": 200}, headers=sso["headers"])
    assert response.status_code == 200, response.text
    return [e for e in response.json()["items"] if e["resource_type"] == "membership" and e["resource_id"] == user_id]


async def map_group(client: httpx.AsyncClient, sso: dict[str, Any], value: str, role: str) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/orgs/{sso['id']}/sso/role-mappings", json={"value": value, "role": role}, headers=sso["headers"]
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_first_sso_sign_in_joins_with_the_mapped_or_the_default_role(
    client: httpx.AsyncClient, keycloak: Keycloak, customer_idp: CustomerIdp, sso: dict[str, Any]
) -> None:
    settings = await client.patch(
        f"/api/v1/orgs/{sso['id']}/sso/settings", json={"default_role": "manager"}, headers=sso["headers"]
    )
    assert settings.status_code == 200, settings.text
    assert settings.json() == {"default_role": "manager", "enforce_sso": False, "role_cap": "admin"}
    await map_group(client, sso, "eng-leads", "admin")
    ian, judy = f"ian@{sso['domain']}", f"judy@{sso['domain']}"
    await customer_person(customer_idp, ian, ["eng-leads", "engineers"])
    await customer_person(customer_idp, judy, ["engineers"])

    token = await broker_login(keycloak, sso["alias"], ian)
    said = claims(token["access_token"])
    assert said["identity_provider"] == sso["alias"]  # how they signed in, in the access token
    assert sorted(said["groups"]) == ["eng-leads", "engineers"]
    # Their first call: the membership exists (no invitation), with the mapped role.
    response = await client.get(f"/api/v1/orgs/{sso['id']}/me/permissions", headers=bearer(token))
    assert response.status_code == 200, response.text
    judy_token = await broker_login(keycloak, sso["alias"], judy)
    assert (await client.get(f"/api/v1/orgs/{sso['id']}", headers=bearer(judy_token))).status_code == 200

    people = await members(client, sso)
    assert people[ian]["role"] == "admin" and people[ian]["status"] == "active"
    assert people[judy]["role"] == "manager"  # no mapping matched: the default role
    events = await audit_actions(client, sso, said["sub"])
    assert [e["action"] for e in events] == ["membership.provisioned"]
    assert events[0]["changes"]["role"] == [None, "admin"]
    assert events[0]["changes"]["via"] == [None, "sso"]
    assert events[0]["actor_user_id"] == said["sub"]


async def test_the_role_follows_the_groups_on_each_changed_sign_in(
    client: httpx.AsyncClient, keycloak: Keycloak, customer_idp: CustomerIdp, sso: dict[str, Any]
) -> None:
    await map_group(client, sso, "eng-leads", "admin")
    await map_group(client, sso, "engineers", "manager")
    ian = f"ian@{sso['domain']}"
    ian_idp = await customer_person(customer_idp, ian, ["eng-leads", "engineers"])
    token = await broker_login(keycloak, sso["alias"], ian)
    sub = claims(token["access_token"])["sub"]
    assert (await client.get(f"/api/v1/orgs/{sso['id']}", headers=bearer(token))).status_code == 200
    assert (await members(client, sso))[ian]["role"] == "admin"  # the highest matching role wins

    # The same claims again (a new sign-in, many requests): nothing is re-applied, nothing audited.
    again = await broker_login(keycloak, sso["alias"], ian)
    for _ in range(3):
        assert (await client.get(f"/api/v1/orgs/{sso['id']}", headers=bearer(again))).status_code == 200
    assert len(await audit_actions(client, sso, sub)) == 1

    # Out of eng-leads at the IdP: the next sign-in brings the role down to the next match.
    await set_groups(customer_idp, ian_idp, ["engineers"])
    moved = await broker_login(keycloak, sso["alias"], ian)
    assert claims(moved["access_token"])["groups"] == ["engineers"]
    assert (await client.get(f"/api/v1/orgs/{sso['id']}", headers=bearer(moved))).status_code == 200
    assert (await members(client, sso))[ian]["role"] == "manager"
    # Out of every mapped group: the default role.
    await set_groups(customer_idp, ian_idp, [])
    bare = await broker_login(keycloak, sso["alias"], ian)
    assert (await client.get(f"/api/v1/orgs/{sso['id']}", headers=bearer(bare))).status_code == 200
    assert (await members(client, sso))[ian]["role"] == "member"
    changes = [e for e in await audit_actions(client, sso, sub) if e["action"] == "membership.role_changed"]
    assert [e["changes"]["role"] for e in changes] == [["manager", "member"], ["admin", "manager"]]  # newest first


async def test_changed_mappings_apply_on_the_next_request_and_never_demote_the_last_owner(
    client: httpx.AsyncClient,
    keycloak: Keycloak,
    customer_idp: CustomerIdp,
    sso: dict[str, Any],
    owner_db: Any,
) -> None:
    ian = f"ian@{sso['domain']}"
    await customer_person(customer_idp, ian, ["eng-leads"])
    token = await broker_login(keycloak, sso["alias"], ian)
    sub = uuid.UUID(claims(token["access_token"])["sub"])
    assert (await client.get(f"/api/v1/orgs/{sso['id']}", headers=bearer(token))).status_code == 200
    assert (await members(client, sso))[ian]["role"] == "member"  # no mappings yet: the default role

    mapping = await map_group(client, sso, "eng-leads", "admin")
    # The same token: the mapping change made the next request apply the claims again.
    assert (await client.get(f"/api/v1/orgs/{sso['id']}", headers=bearer(token))).status_code == 200
    assert (await members(client, sso))[ian]["role"] == "admin"

    # Ian becomes the only owner (by hand); a mapping change that would give him admin keeps him owner.
    await add_member(owner_db, sso["id"], sub, "owner")
    await add_member(owner_db, sso["id"], DEMO_IDS["alice"], "admin")
    deleted = await client.delete(f"/api/v1/orgs/{sso['id']}/sso/role-mappings/{mapping['id']}", headers=bearer(token))
    assert deleted.status_code == 204, deleted.text
    assert (await client.get(f"/api/v1/orgs/{sso['id']}", headers=bearer(token))).status_code == 200
    await add_member(owner_db, sso["id"], DEMO_IDS["alice"], "owner")
    people = await members(client, sso)
    assert people[ian]["role"] == "owner"

    # With another owner, the mappings (now: none matches → the default role) do take it.
    await map_group(client, sso, "engineers", "manager")
    assert (await client.get(f"/api/v1/orgs/{sso['id']}", headers=bearer(token))).status_code == 200
    assert (await members(client, sso))[ian]["role"] == "member"


async def test_no_membership_without_a_verified_domain_of_that_organization(
    client: httpx.AsyncClient, keycloak: Keycloak, customer_idp: CustomerIdp, sso: dict[str, Any]
) -> None:
    outsider = f"ian@elsewhere-{uuid.uuid4().hex[:8]}.test"
    await customer_person(customer_idp, outsider, ["eng-leads"])
    token = await broker_login(keycloak, sso["alias"], outsider)
    assert claims(token["access_token"])["identity_provider"] == sso["alias"]
    assert (await client.get(f"/api/v1/orgs/{sso['id']}", headers=bearer(token))).status_code == 404
    assert outsider not in await members(client, sso)


async def test_role_mapping_api(client: httpx.AsyncClient, tokens: Any, sso: dict[str, Any]) -> None:
    url = f"/api/v1/orgs/{sso['id']}/sso/role-mappings"
    created = await map_group(client, sso, "eng-leads", "admin")
    assert created["claim"] == "groups" and created["role"] == "admin"
    await map_group(client, sso, "auditors", "auditor")

    above = await client.post(url, json={"value": "founders", "role": "owner"}, headers=sso["headers"])
    assert above.status_code == 422, above.text
    assert above.headers["content-type"].startswith("application/problem+json")
    assert "at most the role 'admin'" in above.json()["detail"]
    twice = await client.post(url, json={"value": "eng-leads", "role": "manager"}, headers=sso["headers"])
    assert twice.status_code == 409, twice.text
    unknown_claim = await client.post(
        url, json={"claim": "roles", "value": "x", "role": "member"}, headers=sso["headers"]
    )
    assert unknown_claim.status_code == 422

    listed = await client.get(url, params={"limit": 1}, headers=await tokens.headers("erin"))  # the auditor reads
    assert listed.status_code == 200, listed.text
    assert listed.json()["total"] == 2 and len(listed.json()["items"]) == 1
    assert listed.json()["items"][0]["value"] == "auditors"  # by claim, then value
    for name in ("dave", "erin"):
        refused = await client.post(url, json={"value": "x", "role": "member"}, headers=await tokens.headers(name))
        assert refused.status_code == 403, (name, refused.text)
    assert (await client.get(url, headers=await tokens.headers("dave"))).status_code == 403

    assert (await client.delete(f"{url}/{created['id']}", headers=sso["headers"])).status_code == 204
    assert (await client.delete(f"{url}/{created['id']}", headers=sso["headers"])).status_code == 404
    events = await client.get(f"/api/v1/orgs/{sso['id']}/audit-events", params={"limit": 200}, headers=sso["headers"])
    actions = [e["action"] for e in events.json()["items"] if e["resource_type"] == "sso_role_mapping"]
    assert actions == ["sso_role_mapping.deleted", "sso_role_mapping.created", "sso_role_mapping.created"]

    other = await create_org(client, await tokens.headers("grace"), name="Elsewhere")
    assert (
        await client.get(f"/api/v1/orgs/{other['id']}/sso/role-mappings", headers=sso["headers"])
    ).status_code == 404


async def test_sso_settings_api(client: httpx.AsyncClient, tokens: Any, sso: dict[str, Any]) -> None:
    url = f"/api/v1/orgs/{sso['id']}/sso/settings"
    read = await client.get(url, headers=await tokens.headers("erin"))
    assert read.status_code == 200 and read.json() == {
        "default_role": "member",
        "enforce_sso": False,
        "role_cap": "admin",
    }
    assert (await client.patch(url, json={"default_role": "owner"}, headers=sso["headers"])).status_code == 422
    assert (await client.patch(url, json={"default_role": "boss"}, headers=sso["headers"])).status_code == 422
    assert (
        await client.patch(url, json={"enforce_sso": True}, headers=await tokens.headers("dave"))
    ).status_code == 403
    changed = await client.patch(url, json={"default_role": "auditor"}, headers=sso["headers"])
    assert changed.status_code == 200 and changed.json()["default_role"] == "auditor"
    events = await client.get(f"/api/v1/orgs/{sso['id']}/audit-events", params={"limit": 50}, headers=sso["headers"])
    updated = [e for e in events.json()["items"] if e["action"] == "sso_settings.updated"]
    assert updated and updated[0]["changes"]["default_role"] == ["member", "auditor"]


async def test_a_sign_in_keeps_the_role_the_scim_groups_give(
    client: httpx.AsyncClient, keycloak: Keycloak, customer_idp: CustomerIdp, sso: dict[str, Any]
) -> None:
    """The person's SCIM groups count as values of the ``groups`` claim: a changed sign-in whose token
    lacks the SCIM-given group does not take the role it gave."""
    await map_group(client, sso, "eng-leads", "admin")
    await map_group(client, sso, "engineers", "manager")
    ian = f"ian@{sso['domain']}"
    ian_idp = await customer_person(customer_idp, ian, [])
    token = await broker_login(keycloak, sso["alias"], ian)
    sub = claims(token["access_token"])["sub"]
    assert (await client.get(f"/api/v1/orgs/{sso['id']}", headers=bearer(token))).status_code == 200
    assert (await members(client, sso))[ian]["role"] == "member"

    secret = await client.post(f"/api/v1/orgs/{sso['id']}/sso/scim-token", headers=sso["headers"])
    scim = {"Authorization": f"Bearer {secret.json()['token']}", "Content-Type": "application/scim+json"}
    group = await client.post(
        f"/scim/v2/orgs/{sso['id']}/Groups",
        json={"displayName": "eng-leads", "members": [{"value": sub}]},
        headers=scim,
    )
    assert group.status_code == 201, group.text
    assert (await members(client, sso))[ian]["role"] == "admin"

    # At the IdP he is now in engineers only; signing in again applies the changed claims, with the
    # SCIM group counted: admin stays.
    await set_groups(customer_idp, ian_idp, ["engineers"])
    moved = await broker_login(keycloak, sso["alias"], ian)
    assert claims(moved["access_token"])["groups"] == ["engineers"]
    assert (await client.get(f"/api/v1/orgs/{sso['id']}", headers=bearer(moved))).status_code == 200
    assert (await members(client, sso))[ian]["role"] == "admin"
    changes = [e for e in await audit_actions(client, sso, sub) if e["action"] == "membership.role_changed"]
    assert [(e["changes"]["role"], e["changes"]["via"][1]) for e in changes] == [(["member", "admin"], "scim")]
