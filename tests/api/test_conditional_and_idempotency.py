"""ETag / If-Match on organizations and projects; Idempotency-Key on creating POSTs."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.conftest import create_org, unique_slug


async def test_organizations_have_etags_and_refuse_stale_if_match(client: httpx.AsyncClient, tokens: Any) -> None:
    headers = await tokens.headers("alice")
    org = await create_org(client, headers)
    url = f"/api/v1/orgs/{org['id']}"
    read = await client.get(url, headers=headers)
    etag = read.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert (await client.get(url, headers=headers)).headers["etag"] == etag  # stable

    changed = await client.patch(url, json={"name": "First"}, headers={**headers, "If-Match": etag})
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] != etag
    assert (await client.get(url, headers=headers)).headers["etag"] == changed.headers["etag"]

    stale = await client.patch(url, json={"name": "Second"}, headers={**headers, "If-Match": etag})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert stale.json()["title"] == "Precondition failed"
    assert (await client.get(url, headers=headers)).json()["name"] == "First"

    assert (await client.patch(url, json={"name": "Third"}, headers=headers)).status_code == 200  # unconditional
    star = await client.patch(url, json={"name": "Fourth"}, headers={**headers, "If-Match": "*"})
    assert star.status_code == 200


async def test_projects_have_etags_and_refuse_stale_if_match(client: httpx.AsyncClient, tokens: Any) -> None:
    headers = await tokens.headers("alice")
    org = await create_org(client, headers)
    created = await client.post(f"/api/v1/orgs/{org['id']}/projects", json={"name": "Tagged"}, headers=headers)
    url = created.headers["location"]
    etag = (await client.get(url, headers=headers)).headers["etag"]
    ok = await client.patch(url, json={"description": "v2"}, headers={**headers, "If-Match": etag})
    assert ok.status_code == 200
    stale = await client.patch(url, json={"description": "v3"}, headers={**headers, "If-Match": etag})
    assert stale.status_code == 412
    assert stale.headers["etag"] == ok.headers["etag"]


def test_the_document_declares_if_match_and_412(app: Any) -> None:
    operation = app.openapi()["paths"]["/api/v1/orgs/{org_id}"]["patch"]
    assert any(p["name"] == "If-Match" and p["in"] == "header" for p in operation["parameters"])
    assert "412" in operation["responses"]
    create = app.openapi()["paths"]["/api/v1/orgs"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])


async def test_a_retried_create_returns_the_first_answer_and_creates_nothing(
    client: httpx.AsyncClient, tokens: Any
) -> None:
    headers = await tokens.headers("alice")
    org = await create_org(client, headers)
    url = f"/api/v1/orgs/{org['id']}/projects"
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"name": f"Once {uuid.uuid4().hex[:6]}"}
    first = await client.post(url, json=body, headers={**headers, **key})
    assert first.status_code == 201, first.text
    again = await client.post(url, json=body, headers={**headers, **key})
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    listed = (await client.get(url, headers=headers, params={"limit": 200})).json()["items"]
    assert [p["name"] for p in listed].count(body["name"]) == 1

    other = await client.post(url, json={"name": "Something else"}, headers={**headers, **key})
    assert other.status_code == 422
    assert other.json()["type"].endswith("/idempotency-key-reused")

    # Keys are per caller: bob's same key is his own request.
    bob = await tokens.headers("bob")
    mine = await client.post("/api/v1/orgs", json={"name": "Bob's", "slug": unique_slug()}, headers={**bob, **key})
    assert mine.status_code == 201 and "idempotent-replayed" not in mine.headers


async def test_a_failed_create_is_not_stored(client: httpx.AsyncClient, tokens: Any) -> None:
    headers = {**await tokens.headers("alice"), "Idempotency-Key": str(uuid.uuid4())}
    slug = unique_slug()
    bad = await client.post("/api/v1/orgs", json={"name": "", "slug": slug}, headers=headers)
    assert bad.status_code == 422
    fixed_body = {"name": "Fixed", "slug": slug}
    # A different body with the same key is fine after a failure: nothing was stored.
    assert (await client.post("/api/v1/orgs", json=fixed_body, headers=headers)).status_code == 201
    assert (await client.post("/api/v1/orgs", json=fixed_body, headers=headers)).headers["idempotent-replayed"]


async def test_an_unusable_key_is_a_422(client: httpx.AsyncClient, tokens: Any) -> None:
    headers = {**await tokens.headers("alice"), "Idempotency-Key": "x" * 300}
    response = await client.post("/api/v1/orgs", json={"name": "K", "slug": unique_slug()}, headers=headers)
    assert response.status_code == 422
