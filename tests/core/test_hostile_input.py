"""Hostile input gets a 4xx problem naming the field, never a 500 (issue 8)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import TypeAdapter, ValidationError

from backend.core.errors import install_error_handlers
from backend.core.validation import CanonicalUUID, SafeMultilineText, SafeText
from tests.conftest import create_org, unique_slug

NUL = "\u0000"


def _assert_422_naming(response: httpx.Response, *location: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    locations = [error["location"] for error in response.json()["errors"]]
    assert list(location) in locations, locations


# --------------------------------------------------------------------------- paging bounds


@pytest.mark.parametrize("path", ["/api/v1/orgs", "ORG/members", "ORG/projects", "ORG/audit-events"])
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"offset": str(2**63)}, "offset"),
        ({"offset": "100001"}, "offset"),
        ({"offset": "-1"}, "offset"),
        ({"limit": str(2**63)}, "limit"),
        ({"limit": "0"}, "limit"),
    ],
)
async def test_paging_beyond_its_bounds_is_a_422_naming_the_field(
    client: httpx.AsyncClient, tokens: Any, demo_orgs: dict[str, Any], path: str, query: dict[str, str], field: str
) -> None:
    url = path.replace("ORG", f"/api/v1/orgs/{demo_orgs['acme']}")
    response = await client.get(url, params=query, headers=await tokens.headers("alice"))
    _assert_422_naming(response, "query", field)


async def test_the_largest_offset_is_served(client: httpx.AsyncClient, tokens: Any) -> None:
    response = await client.get("/api/v1/orgs", params={"offset": "100000"}, headers=await tokens.headers("alice"))
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


# --------------------------------------------------------------------------- NUL and control characters


async def test_nul_in_the_member_search_is_a_422(
    client: httpx.AsyncClient, tokens: Any, demo_orgs: dict[str, Any]
) -> None:
    response = await client.get(
        f"/api/v1/orgs/{demo_orgs['acme']}/members",
        params={"search": f"al{NUL}ice"},
        headers=await tokens.headers("alice"),
    )
    _assert_422_naming(response, "query", "search")


async def test_a_plain_member_search_still_works(
    client: httpx.AsyncClient, tokens: Any, demo_orgs: dict[str, Any]
) -> None:
    response = await client.get(
        f"/api/v1/orgs/{demo_orgs['acme']}/members", params={"search": "alice"}, headers=await tokens.headers("alice")
    )
    assert response.status_code == 200, response.text
    assert response.json()["total"] >= 1


@pytest.mark.parametrize("field", ["name", "slug"])
@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_nul_in_each_organization_field_is_a_422(
    client: httpx.AsyncClient, tokens: Any, method: str, field: str
) -> None:
    headers = await tokens.headers("alice")
    body = {"name": "Hostile", "slug": unique_slug()}
    body[field] = f"bad{NUL}value"
    if method == "POST":
        response = await client.post("/api/v1/orgs", json=body, headers=headers)
    else:
        org = await create_org(client, headers)
        response = await client.patch(f"/api/v1/orgs/{org['id']}", json={field: body[field]}, headers=headers)
    _assert_422_naming(response, "body", field)


@pytest.mark.parametrize("field", ["name", "description"])
@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_nul_in_each_project_field_is_a_422(
    client: httpx.AsyncClient, tokens: Any, method: str, field: str
) -> None:
    headers = await tokens.headers("alice")
    org = await create_org(client, headers)
    base = f"/api/v1/orgs/{org['id']}/projects"
    bad = {field: f"bad{NUL}value"}
    if method == "POST":
        response = await client.post(base, json={"name": "Project", **bad}, headers=headers)
    else:
        created = await client.post(base, json={"name": "Project"}, headers=headers)
        assert created.status_code == 201, created.text
        response = await client.patch(f"{base}/{created.json()['id']}", json=bad, headers=headers)
    _assert_422_naming(response, "body", field)


async def test_nul_in_the_invitation_email_is_a_422(
    client: httpx.AsyncClient, tokens: Any, demo_orgs: dict[str, Any]
) -> None:
    response = await client.post(
        f"/api/v1/orgs/{demo_orgs['acme']}/members/invitations",
        json={"email": f"someone{NUL}@example.test", "role": "member"},
        headers=await tokens.headers("alice"),
    )
    _assert_422_naming(response, "body", "email")


async def test_a_description_keeps_its_line_breaks_and_tabs(client: httpx.AsyncClient, tokens: Any) -> None:
    headers = await tokens.headers("alice")
    org = await create_org(client, headers)
    description = "line one\r\nline two\n\tindented"
    response = await client.post(
        f"/api/v1/orgs/{org['id']}/projects", json={"name": "Lines", "description": description}, headers=headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["description"] == description


async def test_a_name_refuses_line_breaks_and_lone_surrogates(client: httpx.AsyncClient, tokens: Any) -> None:
    headers = await tokens.headers("alice")
    newline = await client.post("/api/v1/orgs", json={"name": "two\nlines", "slug": unique_slug()}, headers=headers)
    _assert_422_naming(newline, "body", "name")
    surrogate = await client.post(
        "/api/v1/orgs",
        content=b'{"name": "half \\ud800 a pair", "slug": "%s"}' % unique_slug().encode(),
        headers={**headers, "Content-Type": "application/json"},
    )
    _assert_422_naming(surrogate, "body", "name")


@pytest.mark.parametrize("char", [chr(c) for c in (*range(0x00, 0x20), 0x7F)])
def test_safe_text_refuses_every_control_character(char: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(SafeText).validate_python(f"a{char}b")


@pytest.mark.parametrize("char", [chr(c) for c in (*range(0x00, 0x20), 0x7F) if chr(c) not in "\t\n\r"])
def test_safe_multiline_text_refuses_control_characters_except_tab_and_line_breaks(char: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(SafeMultilineText).validate_python(f"a{char}b")
    assert TypeAdapter(SafeMultilineText).validate_python("a\tb\r\nc") == "a\tb\r\nc"


def test_safe_text_keeps_ordinary_unicode() -> None:
    value = "Zoë's café — 東京 🚀"
    assert TypeAdapter(SafeText).validate_python(value) == value


# --------------------------------------------------------------------------- malformed JSON


@pytest.mark.parametrize(
    "body", [b"{not json", b"", b"\x00\x01\x02", b'{"name": "x", "slug": "y"', b"[]", b"null", b"\xff\xfe"]
)
async def test_malformed_json_bodies_are_422_problems(client: httpx.AsyncClient, tokens: Any, body: bytes) -> None:
    response = await client.post(
        "/api/v1/orgs", content=body, headers={**await tokens.headers("alice"), "Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


# --------------------------------------------------------------------------- CanonicalUUID

CANONICAL = "7a1b0000-0000-4000-8000-0000000000aa"
NON_CANONICAL = [
    "7a1b00000000400080000000000000aa",  # no hyphens
    "{7a1b0000-0000-4000-8000-0000000000aa}",  # braces
    "urn:uuid:7a1b0000-0000-4000-8000-0000000000aa",
    " 7a1b0000-0000-4000-8000-0000000000aa",
    "7a1b0000-0000-4000-8000-0000000000aa ",
    "7a1b0000-0000-4000-8000-0000000000a",  # too short
    "7a1b0000-0000-4000-8000-0000000000aaa",  # too long
    "7a1b000-00000-4000-8000-0000000000aa",  # hyphens misplaced
    "7a1b0000-0000-4000-8000-0000000000ag",  # not hex
    "7a1b0000-0000-4000-8000-0000000000a\u0000",
    "",
]


def test_canonical_uuid_accepts_the_hyphenated_form_in_either_case() -> None:
    adapter = TypeAdapter(CanonicalUUID)
    assert adapter.validate_python(CANONICAL) == uuid.UUID(CANONICAL)
    assert adapter.validate_python(CANONICAL.upper()) == uuid.UUID(CANONICAL)
    assert adapter.validate_python(uuid.UUID(CANONICAL)) == uuid.UUID(CANONICAL)


@pytest.mark.parametrize("spelling", NON_CANONICAL)
def test_canonical_uuid_refuses_other_spellings(spelling: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(CanonicalUUID).validate_python(spelling)


def test_canonical_uuid_refuses_non_strings() -> None:
    for value in (12345, 1.5, b"7a1b0000-0000-4000-8000-0000000000aa", None):
        with pytest.raises(ValidationError):
            TypeAdapter(CanonicalUUID).validate_python(value)


@pytest.fixture(scope="module")
def uuid_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/things/{thing_id}")
    async def read(thing_id: CanonicalUUID) -> dict[str, str]:
        return {"id": str(thing_id)}

    return app


@pytest.mark.parametrize("spelling", [s for s in NON_CANONICAL if s and "\u0000" not in s and not s.endswith(" ")])
async def test_a_non_canonical_path_uuid_is_a_422_naming_the_parameter(uuid_app: FastAPI, spelling: str) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=uuid_app), base_url="http://t") as http:
        response = await http.get(f"/things/{spelling}")
        _assert_422_naming(response, "path", "thing_id")
        ok = await http.get(f"/things/{CANONICAL.upper()}")
        assert ok.status_code == 200
        assert ok.json() == {"id": CANONICAL}


def test_canonical_uuid_is_a_uuid_in_the_openapi_schema(uuid_app: FastAPI) -> None:
    (parameter,) = uuid_app.openapi()["paths"]["/things/{thing_id}"]["get"]["parameters"]
    assert parameter["schema"]["format"] == "uuid"


async def test_every_id_in_every_real_path_must_be_canonical(
    app: FastAPI, client: httpx.AsyncClient, tokens: Any, demo_orgs: dict[str, Any]
) -> None:
    """Each route's id parameters, spelled without hyphens, are refused with a 422 naming the parameter
    (never 200 for a second spelling of the same resource, never a 500)."""
    from backend.seed import DEMO_NAMESPACE
    from tests.conftest import api_routes

    alice = await tokens.headers("alice")
    canonical = str(uuid.uuid4())
    # Scopes resolve before the route's own parameters: the organization and project must exist.
    real = {"org_id": str(demo_orgs["acme"]), "project_id": str(uuid.uuid5(DEMO_NAMESPACE, "project:web"))}
    checked = 0
    for method, path in api_routes(app):
        names = [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("_id}")]
        for name in names:
            ids = {other: real.get(other, canonical) for other in names}
            ids[name] = ids[name].replace("-", "")
            # Other path parameters (a domain name) take a plain value: only the ids are under test.
            response = await client.request(
                method, path.format_map(defaultdict(lambda: "other.test", ids)), headers=alice
            )
            assert response.status_code == 422, f"{method} {path} ({name}): {response.status_code}"
            assert any(error["location"] == ["path", name] for error in response.json()["errors"]), response.text
            checked += 1
    assert checked >= 50
