from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Tokens, create_org, unique_slug


async def test_create_list_read_rename_archive(client: httpx.AsyncClient, tokens: Tokens) -> None:
    bob = await tokens.headers("bob")
    slug = unique_slug()
    created = await client.post("/api/v1/orgs", json={"name": "  Bob's Shop ", "slug": slug}, headers=bob)
    assert created.status_code == 201, created.text
    org = created.json()
    assert org["name"] == "Bob's Shop" and org["slug"] == slug and org["my_role"] == "owner"

    mine = await client.get("/api/v1/orgs", params={"limit": 200}, headers=bob)
    listed = {o["slug"]: o for o in mine.json()["items"]}
    assert slug in listed and listed["acme"]["my_role"] == "admin"

    read = await client.get(f"/api/v1/orgs/{org['id']}", headers=bob)
    assert read.status_code == 200 and read.json()["id"] == org["id"]

    renamed = await client.patch(f"/api/v1/orgs/{org['id']}", json={"name": "Bob's Store"}, headers=bob)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Bob's Store"

    archived = await client.post(f"/api/v1/orgs/{org['id']}/archive", headers=bob)
    assert archived.status_code == 200 and archived.json()["archived_at"]
    frozen = await client.patch(f"/api/v1/orgs/{org['id']}", json={"name": "Again"}, headers=bob)
    assert frozen.status_code == 409
    default_listing = await client.get("/api/v1/orgs", params={"limit": 200}, headers=bob)
    assert slug not in {o["slug"] for o in default_listing.json()["items"]}
    with_archived = await client.get("/api/v1/orgs", params={"limit": 200, "include_archived": True}, headers=bob)
    assert slug in {o["slug"] for o in with_archived.json()["items"]}


async def test_list_is_paginated(client: httpx.AsyncClient, tokens: Tokens) -> None:
    dave = await tokens.headers("dave")
    for n in range(3):
        await create_org(client, dave, f"Dave Org {n}")
    first = (await client.get("/api/v1/orgs", params={"limit": 2}, headers=dave)).json()
    second = (await client.get("/api/v1/orgs", params={"limit": 2, "offset": 2}, headers=dave)).json()
    assert first["total"] == second["total"] >= 4
    assert len(first["items"]) == 2
    assert not {o["id"] for o in first["items"]} & {o["id"] for o in second["items"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "slug": "Has Spaces"}, "slug"),
        ({"name": "x", "slug": "-leading"}, "slug"),
        ({"name": "", "slug": "fine-slug"}, "name"),
        ({"name": "x" * 201, "slug": "fine-slug"}, "name"),
        ({"slug": "fine-slug"}, "name"),
        ({"name": "x", "slug": "fine-slug", "owner": "me"}, "owner"),
    ],
)
async def test_invalid_input_is_a_clear_422(
    client: httpx.AsyncClient, tokens: Tokens, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/v1/orgs", json=body, headers=await tokens.headers("carol"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert any(field in error["location"] for error in problem["errors"]), problem


async def test_slugs_are_unique(client: httpx.AsyncClient, tokens: Tokens) -> None:
    taken = await client.post(
        "/api/v1/orgs", json={"name": "Mine", "slug": "acme"}, headers=await tokens.headers("heidi")
    )
    assert taken.status_code == 409
    assert taken.json()["field"] == "slug"


async def test_roles_decide_what_members_may_do(
    client: httpx.AsyncClient, tokens: Tokens, demo_orgs: dict[str, Any]
) -> None:
    acme = demo_orgs["acme"]
    dave = await tokens.headers("dave")  # member
    assert (await client.get(f"/api/v1/orgs/{acme}", headers=dave)).status_code == 200
    denied = await client.patch(f"/api/v1/orgs/{acme}", json={"name": "Dave's now"}, headers=dave)
    assert denied.status_code == 403
    assert denied.headers["content-type"] == "application/problem+json"
    bob = await tokens.headers("bob")  # admin: may rename, may not archive
    assert (await client.post(f"/api/v1/orgs/{acme}/archive", headers=bob)).status_code == 403
    erin = await tokens.headers("erin")  # auditor: reads the trail, changes nothing
    assert (await client.get(f"/api/v1/orgs/{acme}/audit-events", headers=erin)).status_code == 200
    assert (await client.patch(f"/api/v1/orgs/{acme}", json={"name": "x"}, headers=erin)).status_code == 403
    assert (await client.get(f"/api/v1/orgs/{acme}/audit-events", headers=dave)).status_code == 403


async def test_members_can_be_searched(client: httpx.AsyncClient, tokens: Tokens, demo_orgs: dict[str, Any]) -> None:
    response = await client.get(
        f"/api/v1/orgs/{demo_orgs['acme']}/members",
        params={"search": "carol"},
        headers=await tokens.headers("dave"),
    )
    assert response.status_code == 200
    assert [m["email"] for m in response.json()["items"]] == ["carol@acme.test"]
    assert response.json()["items"][0]["role"] == "manager"
