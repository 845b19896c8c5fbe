"""SCIM 2.0 Groups (RFC 7644 section 3) against the real stack: the organization's identity provider
pushes groups, and their members' roles follow the organization's group-to-role mappings."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import DEMO_IDS, Tokens, add_member
from tests.scim.test_users import ERROR, PATCH, actions, rfc_user, scim_org

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


async def roles(client: httpx.AsyncClient, tokens: Tokens, org_id: str) -> dict[str, str]:
    response = await client.get(
        f"/api/v1/orgs/{org_id}/members", params={"limit": 200}, headers=await tokens.headers("alice")
    )
    assert response.status_code == 200, response.text
    return {m["user_id"]: m["role"] for m in response.json()["items"]}


async def map_group(client: httpx.AsyncClient, tokens: Tokens, org_id: str, value: str, role: str) -> None:
    response = await client.post(
        f"/api/v1/orgs/{org_id}/sso/role-mappings",
        json={"value": value, "role": role},
        headers=await tokens.headers("alice"),
    )
    assert response.status_code == 201, response.text


async def scim_user(client: httpx.AsyncClient, org_id: str, scim: dict[str, str], name: str) -> str:
    email = f"{name}-{uuid.uuid4().hex[:8]}@example.test"
    created = await client.post(f"/scim/v2/orgs/{org_id}/Users", json=rfc_user(email), headers=scim)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": list(operations)}


async def role_changes(owner_db: Any, org_id: str) -> list[tuple[str, str, str, str]]:
    """(user id, from, to, via) of every membership.role_changed event, oldest first."""
    rows = await owner_db.fetch(
        "SELECT resource_id, changes FROM audit_events"
        " WHERE org_id = $1 AND action = 'membership.role_changed' ORDER BY seq",
        uuid.UUID(org_id),
    )
    found = []
    for row in rows:
        changes = json.loads(row["changes"]) if isinstance(row["changes"], str) else row["changes"]
        found.append((row["resource_id"], *changes["role"], changes["via"][1]))
    return found


async def test_group_members_get_the_mapped_role_and_lose_it_again(
    client: httpx.AsyncClient, tokens: Tokens, owner_db: Any
) -> None:
    org_id, scim = await scim_org(client, tokens, "SCIM groups roles")
    base = f"/scim/v2/orgs/{org_id}/Groups"
    await map_group(client, tokens, org_id, "eng-leads", "admin")
    await map_group(client, tokens, org_id, "engineers", "manager")
    bob, carol = await scim_user(client, org_id, scim, "bob"), await scim_user(client, org_id, scim, "carol")

    created = await client.post(
        base, json={"schemas": [GROUP], "displayName": "eng-leads", "members": [{"value": bob}]}, headers=scim
    )
    assert created.status_code == 201, created.text
    assert created.headers["content-type"].startswith("application/scim+json")
    group = created.json()
    assert created.headers["location"].endswith(f"{base}/{group['id']}")
    assert group["schemas"] == [GROUP] and group["displayName"] == "eng-leads"
    assert [m["value"] for m in group["members"]] == [bob]
    assert group["members"][0]["$ref"].endswith(f"/scim/v2/orgs/{org_id}/Users/{bob}")
    assert group["members"][0]["display"] == "Ms. Barbara J Jensen III"
    assert (await roles(client, tokens, org_id))[bob] == "admin"

    url = f"{base}/{group['id']}"
    # Okta adds a member with a path and a list of values.
    added = await client.patch(
        url, json=patch({"op": "add", "path": "members", "value": [{"value": carol}]}), headers=scim
    )
    assert added.status_code == 200, added.text
    assert {m["value"] for m in added.json()["members"]} == {bob, carol}
    assert (await roles(client, tokens, org_id))[carol] == "admin"

    # Okta removes one member by a value filter in the path: Bob falls back to the default role.
    removed = await client.patch(url, json=patch({"op": "remove", "path": f'members[value eq "{bob}"]'}), headers=scim)
    assert removed.status_code == 200, removed.text
    assert [m["value"] for m in removed.json()["members"]] == [carol]
    assert (await roles(client, tokens, org_id))[bob] == "member"

    # Azure AD renames with a capitalised op: Carol's role follows the group's new name.
    renamed = await client.patch(
        url, json=patch({"op": "Replace", "path": "displayName", "value": "engineers"}), headers=scim
    )
    assert renamed.status_code == 200 and renamed.json()["displayName"] == "engineers"
    assert (await roles(client, tokens, org_id))[carol] == "manager"

    # Okta renames without a path, repeating the id.
    okta = patch({"op": "replace", "value": {"id": group["id"], "displayName": "eng-leads"}})
    assert (await client.patch(url, json=okta, headers=scim)).json()["displayName"] == "eng-leads"
    assert (await roles(client, tokens, org_id))[carol] == "admin"

    # Azure AD removes members by naming them in the value.
    azure = patch(
        {"op": "Remove", "path": "members", "value": [{"value": carol}]},
        {"op": "Add", "path": "members", "value": [{"value": bob}]},
    )
    both = await client.patch(url, json=azure, headers=scim)
    assert [m["value"] for m in both.json()["members"]] == [bob]
    assert (await roles(client, tokens, org_id))[carol] == "member"
    assert (await roles(client, tokens, org_id))[bob] == "admin"

    # Deleting the group takes the role it gave.
    assert (await client.delete(url, headers=scim)).status_code == 204
    gone = await client.get(url, headers=scim)
    assert gone.status_code == 404 and gone.json()["schemas"] == [ERROR]
    assert (await roles(client, tokens, org_id))[bob] == "member"

    changes = await role_changes(owner_db, org_id)
    assert changes[:5] == [
        (bob, "member", "admin", "scim"),
        (carol, "member", "admin", "scim"),
        (bob, "admin", "member", "scim"),
        (carol, "admin", "manager", "scim"),
        (carol, "manager", "admin", "scim"),
    ]
    # One request changed both (people are taken in id order), then the deletion.
    assert set(changes[5:7]) == {(carol, "admin", "member", "scim"), (bob, "member", "admin", "scim")}
    assert changes[7:] == [(bob, "admin", "member", "scim")]
    trail = [action for action, resource_id, actor in await actions(owner_db, org_id) if resource_id == group["id"]]
    assert trail == ["scim_group.created"] + ["scim_group.updated"] * 5 + ["scim_group.deleted"]


async def test_without_mappings_groups_change_no_role_and_the_last_owner_stays(
    client: httpx.AsyncClient, tokens: Tokens, owner_db: Any
) -> None:
    org_id, scim = await scim_org(client, tokens, "SCIM groups owner")
    base = f"/scim/v2/orgs/{org_id}/Groups"
    alice = str(DEMO_IDS["alice"])
    dave = str(DEMO_IDS["dave"])
    await add_member(owner_db, org_id, DEMO_IDS["dave"], "manager")
    made = await client.post(
        base, json={"displayName": "staff", "members": [{"value": alice}, {"value": dave}]}, headers=scim
    )
    assert made.status_code == 201, made.text
    assert await roles(client, tokens, org_id) == {alice: "owner", dave: "manager"}  # no mappings: roles stand

    await map_group(client, tokens, org_id, "engineers", "member")
    renamed = await client.patch(
        f"{base}/{made.json()['id']}",
        json=patch({"op": "replace", "path": "displayName", "value": "engineers"}),
        headers=scim,
    )
    assert renamed.status_code == 200, renamed.text
    # Alice is the last owner: kept. Dave follows the mapping.
    assert await roles(client, tokens, org_id) == {alice: "owner", dave: "member"}
    assert await role_changes(owner_db, org_id) == [(dave, "manager", "member", "scim")]


async def test_filter_pagination_uniqueness_and_replace(client: httpx.AsyncClient, tokens: Tokens) -> None:
    org_id, scim = await scim_org(client, tokens, "SCIM groups list")
    base = f"/scim/v2/orgs/{org_id}/Groups"
    bob = await scim_user(client, org_id, scim, "bob")
    ids = {}
    for name, external in (("Sales", "az-1"), ("engineering", "az-2"), ("Finance", None)):
        body: dict[str, Any] = {"schemas": [GROUP], "displayName": name, "members": [{"value": bob}]}
        if external:
            body["externalId"] = external
        made = await client.post(base, json=body, headers=scim)
        assert made.status_code == 201, made.text
        ids[name] = made.json()["id"]

    again = await client.post(base, json={"displayName": "SALES"}, headers=scim)
    assert again.status_code == 409 and again.json()["scimType"] == "uniqueness"

    listing = (await client.get(base, headers=scim)).json()
    assert listing["schemas"] == [LIST] and listing["totalResults"] == 3
    assert [g["displayName"] for g in listing["Resources"]] == ["engineering", "Finance", "Sales"]
    assert all(g["members"][0]["value"] == bob for g in listing["Resources"])

    page = (await client.get(base, params={"startIndex": 2, "count": 1}, headers=scim)).json()
    assert page["totalResults"] == 3 and page["startIndex"] == 2 and page["itemsPerPage"] == 1
    assert [g["displayName"] for g in page["Resources"]] == ["Finance"]

    found = (await client.get(base, params={"filter": 'displayName eq "sales"'}, headers=scim)).json()
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == ids["Sales"]
    by_external = (await client.get(base, params={"filter": 'externalId eq "az-2"'}, headers=scim)).json()
    assert [g["id"] for g in by_external["Resources"]] == [ids["engineering"]]
    slim = (await client.get(base, params={"excludedAttributes": "members"}, headers=scim)).json()
    assert slim["totalResults"] == 3 and all("members" not in g for g in slim["Resources"])
    for unsupported in ('displayName co "a"', 'members eq "x"', 'displayName eq "a" or externalId eq "b"', "nope"):
        refused = await client.get(base, params={"filter": unsupported}, headers=scim)
        assert refused.status_code == 400, unsupported
        assert refused.json()["scimType"] == "invalidFilter"

    # PUT replaces everything: no members given, none left; a name held by another group is a 409.
    url = f"{base}/{ids['Finance']}"
    replaced = await client.put(
        url, json={"schemas": [GROUP], "displayName": "Finance EU", "externalId": "az-3"}, headers=scim
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["displayName"] == "Finance EU" and replaced.json()["externalId"] == "az-3"
    assert replaced.json()["members"] == []
    taken = await client.put(url, json={"displayName": "sales"}, headers=scim)
    assert taken.status_code == 409 and taken.json()["scimType"] == "uniqueness"
    bad_path = await client.patch(url, json=patch({"op": "replace", "path": "owner", "value": "x"}), headers=scim)
    assert bad_path.status_code == 400 and bad_path.json()["scimType"] == "invalidPath"


async def test_a_member_who_is_not_a_user_of_the_organization_is_refused_and_nothing_written(
    client: httpx.AsyncClient, tokens: Tokens, owner_db: Any
) -> None:
    org_id, scim = await scim_org(client, tokens, "SCIM groups strangers")
    other_id, other = await scim_org(client, tokens, "SCIM groups elsewhere")
    base = f"/scim/v2/orgs/{org_id}/Groups"
    await map_group(client, tokens, org_id, "eng-leads", "admin")
    bob = await scim_user(client, org_id, scim, "bob")
    theirs = await scim_user(client, other_id, other, "stranger")
    before = await actions(owner_db, org_id)

    for stranger in (theirs, str(uuid.uuid4()), "not-an-id"):
        refused = await client.post(
            base, json={"displayName": "eng-leads", "members": [{"value": bob}, {"value": stranger}]}, headers=scim
        )
        assert refused.status_code == 400, refused.text
        assert refused.json()["schemas"] == [ERROR] and refused.json()["scimType"] == "invalidValue"
    assert (await client.get(base, headers=scim)).json()["totalResults"] == 0
    assert (await roles(client, tokens, org_id))[bob] == "member"
    assert await actions(owner_db, org_id) == before

    made = await client.post(base, json={"displayName": "eng-leads"}, headers=scim)
    url = f"{base}/{made.json()['id']}"
    mixed = patch({"op": "add", "path": "members", "value": [{"value": bob}, {"value": theirs}]})
    assert (await client.patch(url, json=mixed, headers=scim)).status_code == 400
    assert (await client.get(url, headers=scim)).json()["members"] == []
    assert (await roles(client, tokens, org_id))[bob] == "member"
    assert [a for a, _, _ in await actions(owner_db, org_id)][len(before) :] == ["scim_group.created"]


@pytest.mark.parametrize("who", ["other-org", "no-secret"])
async def test_another_organizations_secret_gets_404_for_groups(
    client: httpx.AsyncClient, tokens: Tokens, who: str
) -> None:
    org_id, scim = await scim_org(client, tokens, "SCIM groups mine")
    other_id, other = await scim_org(client, tokens, "SCIM groups theirs")
    base = f"/scim/v2/orgs/{org_id}/Groups"
    made = await client.post(base, json={"displayName": "private"}, headers=scim)
    assert made.status_code == 201
    url = f"{base}/{made.json()['id']}"
    headers = other if who == "other-org" else {"Content-Type": "application/scim+json"}
    for response in (
        await client.get(base, headers=headers),
        await client.get(url, headers=headers),
        await client.post(base, json={"displayName": "mine now"}, headers=headers),
        await client.put(url, json={"displayName": "x"}, headers=headers),
        await client.patch(url, json=patch({"op": "replace", "path": "displayName", "value": "x"}), headers=headers),
        await client.delete(url, headers=headers),
    ):
        assert response.status_code == 404
        assert response.json() == {"schemas": [ERROR], "status": "404", "detail": "Not found."}
    # The other organization's secret on its own path does not find the group either.
    theirs = await client.get(f"/scim/v2/orgs/{other_id}/Groups/{made.json()['id']}", headers=other)
    assert theirs.status_code == 404 and theirs.json()["schemas"] == [ERROR]
    assert (await client.get(f"/scim/v2/orgs/{other_id}/Groups", headers=other)).json()["totalResults"] == 0
    assert (await client.get(url, headers=scim)).json()["displayName"] == "private"
