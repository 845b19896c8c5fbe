"""HTTP details clients rely on: Location, Allow, 415, JSON error positions, clean messages, titles."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import create_org, unique_slug


async def test_created_resources_carry_their_location(client: httpx.AsyncClient, tokens: Any) -> None:
    headers = await tokens.headers("alice")
    response = await client.post("/api/v1/orgs", json={"name": "Located", "slug": unique_slug()}, headers=headers)
    assert response.status_code == 201
    org_id = response.json()["id"]
    assert response.headers["location"] == f"/api/v1/orgs/{org_id}"
    assert (await client.get(response.headers["location"], headers=headers)).status_code == 200

    project = await client.post(f"/api/v1/orgs/{org_id}/projects", json={"name": "Located"}, headers=headers)
    assert project.headers["location"] == f"/api/v1/orgs/{org_id}/projects/{project.json()['id']}"


async def test_no_location_when_no_url_serves_the_new_thing(client: httpx.AsyncClient, tokens: Any) -> None:
    headers = await tokens.headers("alice")
    org = await create_org(client, headers)
    project = await client.post(f"/api/v1/orgs/{org['id']}/projects", json={"name": "Timed"}, headers=headers)
    timer = await client.post(
        f"/api/v1/orgs/{org['id']}/timer", json={"project_id": project.json()["id"]}, headers=headers
    )
    assert timer.status_code == 201, timer.text
    assert "location" not in timer.headers  # /timer/{id} is not a resource


async def test_405_lists_every_allowed_method(client: httpx.AsyncClient, tokens: Any) -> None:
    response = await client.put("/api/v1/orgs", json={}, headers=await tokens.headers("alice"))
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
    assert response.json()["title"] == "Method not allowed"
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_form_body_to_a_json_route_is_a_415(client: httpx.AsyncClient, tokens: Any) -> None:
    headers = await tokens.headers("alice")
    response = await client.post("/api/v1/orgs", data={"name": "Form", "slug": unique_slug()}, headers=headers)
    assert response.status_code == 415, response.text
    body = response.json()
    assert body["title"] == "Unsupported media type"
    assert body["type"] == "https://worktime.dev/problems/unsupported-media-type"
    text = await client.post("/api/v1/orgs", content=b"name=x", headers={**headers, "Content-Type": "text/plain"})
    assert text.status_code == 415
    # JSON with a structured suffix is JSON; an empty body is still a 422 "missing".
    suffixed = await client.post(
        "/api/v1/orgs",
        content=b'{"name": "Suffix", "slug": "%s"}' % unique_slug().encode(),
        headers={**headers, "Content-Type": "application/merge-patch+json"},
    )
    assert suffixed.status_code == 201, suffixed.text
    empty = await client.post("/api/v1/orgs", headers={**headers, "Content-Type": "application/json"})
    assert empty.status_code == 422


async def test_a_json_syntax_error_names_line_and_column(client: httpx.AsyncClient, tokens: Any) -> None:
    headers = {**await tokens.headers("alice"), "Content-Type": "application/json"}
    response = await client.post("/api/v1/orgs", content=b'{\n  "name": "x",\n  "slug" "y"\n}', headers=headers)
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["location"] == ["body"]
    assert (error["line"], error["column"]) == (3, 10)
    assert "line 3, column 10" in error["message"]


async def test_validation_messages_have_no_pydantic_prefix(client: httpx.AsyncClient, tokens: Any) -> None:
    headers = await tokens.headers("alice")
    response = await client.post("/api/v1/orgs", json={"name": "bad\x00name", "slug": unique_slug()}, headers=headers)
    assert response.status_code == 422
    messages = [error["message"] for error in response.json()["errors"]]
    assert messages and not any(message.startswith("Value error") for message in messages), messages


async def test_titles_are_sentence_case(client: httpx.AsyncClient, tokens: Any) -> None:
    response = await client.get("/api/v1/nothing-here", headers=await tokens.headers("alice"))
    assert response.status_code == 404
    assert response.json()["title"] == "Not found"
