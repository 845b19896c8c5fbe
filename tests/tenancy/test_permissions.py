"""``/me/permissions`` and ``/me/permissions/explain``: what the caller may do, and why."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import DEMO_IDS, Tokens, add_member, create_org


@pytest.fixture
async def shop(client: httpx.AsyncClient, tokens: Tokens, owner_db: Any) -> dict[str, Any]:
    """alice owner, bob admin, carol manager leading "Led", dave member contributing to "Led"."""
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, "Permissions")
    for name, role in [("bob", "admin"), ("carol", "manager"), ("dave", "member")]:
        await add_member(owner_db, org["id"], DEMO_IDS[name], role)
    base = f"/api/v1/orgs/{org['id']}/projects"
    led = (await client.post(base, json={"name": "Led"}, headers=alice)).json()
    other = (await client.post(base, json={"name": "Other"}, headers=alice)).json()
    for name, role in [("carol", "lead"), ("dave", "contributor")]:
        assigned = await client.put(f"{base}/{led['id']}/members/{DEMO_IDS[name]}", json={"role": role}, headers=alice)
        assert assigned.status_code == 200, assigned.text
    return {"org": org, "led": led, "other": other}


async def _mine(client: httpx.AsyncClient, tokens: Tokens, org_id: str, name: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/orgs/{org_id}/me/permissions", headers=await tokens.headers(name))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_member_sees_their_own_effective_permissions(
    client: httpx.AsyncClient, tokens: Tokens, shop: dict[str, Any]
) -> None:
    dave = await _mine(client, tokens, shop["org"]["id"], "dave")
    assert dave["role"] == "member" and dave["read_only"] is None
    assert {"organization:read", "member:list", "project:list", "member:leave"} <= set(dave["permissions"])
    assert not {"member:invite", "organization:update", "audit:read", "project:create"} & set(dave["permissions"])
    # The organization role alone reaches no project; the contributor role reaches "Led".
    assert dave["project_defaults"] == []
    (led,) = dave["projects"]
    assert led["project_id"] == shop["led"]["id"] and led["role"] == "contributor"
    assert "project:read" in led["permissions"] and "project:update" not in led["permissions"]


async def test_an_admin_reaches_every_project_through_the_org_role(
    client: httpx.AsyncClient, tokens: Tokens, shop: dict[str, Any]
) -> None:
    bob = await _mine(client, tokens, shop["org"]["id"], "bob")
    assert {"member:invite", "member:update", "audit:read"} <= set(bob["permissions"])
    assert "organization:archive" not in bob["permissions"]  # the owner's alone
    assert {"project:read", "project:update", "project_member:manage"} <= set(bob["project_defaults"])


async def test_an_archived_organization_grants_reads_only(
    client: httpx.AsyncClient, tokens: Tokens, shop: dict[str, Any]
) -> None:
    org_id = shop["org"]["id"]
    before = await _mine(client, tokens, org_id, "alice")
    assert "organization:update" in before["permissions"]
    assert (await client.post(f"/api/v1/orgs/{org_id}/archive", headers=await tokens.headers("alice"))).is_success
    after = await _mine(client, tokens, org_id, "alice")
    assert "archived" in after["read_only"]
    assert set(after["permissions"]) == {p for p in before["permissions"] if p.split(":")[1] in {"read", "list"}}
    assert all(p.split(":")[1] in {"read", "list"} for p in after["project_defaults"])


async def _explain(
    client: httpx.AsyncClient, tokens: Tokens, org_id: str, name: str, permission: str, project_id: str | None = None
) -> httpx.Response:
    params = {"permission": permission} | ({"project_id": project_id} if project_id else {})
    return await client.get(
        f"/api/v1/orgs/{org_id}/me/permissions/explain", params=params, headers=await tokens.headers(name)
    )


async def test_explain_names_the_role_and_the_policy_line(
    client: httpx.AsyncClient, tokens: Tokens, shop: dict[str, Any]
) -> None:
    org_id = shop["org"]["id"]
    # carol manages nothing organization-wide, but leads "Led".
    granted = (await _explain(client, tokens, org_id, "carol", "project:update", shop["led"]["id"])).json()
    assert granted["allowed"] is True
    assert granted["roles"] == ["org:manager", "project:lead"]
    assert granted["granted_by"] == {
        "role": "project:lead",
        "via": ["project:lead"],
        "policy_line": "p, project:lead, project, update",
    }
    refused = (await _explain(client, tokens, org_id, "carol", "project:update", shop["other"]["id"])).json()
    assert refused["allowed"] is False and refused["granted_by"] is None
    assert refused["granted_to"] == ["project:lead"] and "none of your roles" in refused["reason"]

    # bob is an admin: the organization role reaches the project through inheritance.
    inherited = (await _explain(client, tokens, org_id, "bob", "project:update", shop["other"]["id"])).json()
    assert inherited["allowed"] is True
    assert inherited["granted_by"]["via"] == ["org:admin", "project:lead"]

    owner = (await _explain(client, tokens, org_id, "alice", "member:invite")).json()
    assert owner["granted_by"]["via"] == ["org:owner", "org:admin", "org:manager"]
    assert owner["granted_by"]["policy_line"] == "p, org:manager, member, invite"


async def test_explain_refuses_unknown_permissions_and_foreign_projects(
    client: httpx.AsyncClient, tokens: Tokens, shop: dict[str, Any], demo_orgs: dict[str, Any]
) -> None:
    org_id = shop["org"]["id"]
    unknown = await _explain(client, tokens, org_id, "alice", "payroll:raid")
    assert unknown.status_code == 422 and "project:read" in unknown.json()["known_permissions"]
    # alice owns acme too; its project is still not a project of this organization.
    acme_project = await client.post(
        f"/api/v1/orgs/{demo_orgs['acme']}/projects",
        json={"name": f"Elsewhere {uuid.uuid4().hex[:6]}"},
        headers=await tokens.headers("alice"),
    )
    foreign = await _explain(client, tokens, org_id, "alice", "project:read", acme_project.json()["id"])
    assert foreign.status_code == 404


async def test_explain_says_when_archiving_is_what_refuses(
    client: httpx.AsyncClient, tokens: Tokens, shop: dict[str, Any]
) -> None:
    org_id, led = shop["org"]["id"], shop["led"]["id"]
    alice = await tokens.headers("alice")
    assert (await client.post(f"/api/v1/orgs/{org_id}/projects/{led}/archive", headers=alice)).is_success
    frozen = (await _explain(client, tokens, org_id, "carol", "project:update", led)).json()
    assert frozen["allowed"] is False and "project is archived" in frozen["read_only"]
    assert frozen["granted_by"]["role"] == "project:lead"  # the role would allow it
    readable = (await _explain(client, tokens, org_id, "carol", "project:read", led)).json()
    assert readable["allowed"] is True and readable["read_only"] is None
