"""The OpenAPI document meets the standard for every route, including routes added later."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from fastapi import FastAPI

from backend.core.openapi import HTTP_METHODS, referenced_schemas

CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in HTTP_METHODS
    ]


def test_every_operation_has_a_summary_a_description_and_a_readable_unique_operation_id(
    document: dict[str, Any],
) -> None:
    ids = Counter()
    for method, path, operation in _operations(document):
        where = f"{method.upper()} {path}"
        assert operation.get("summary", "").strip(), where
        assert operation["summary"][0].isupper() and operation["summary"] != operation["summary"].title(), where
        assert len(operation.get("description", "").strip()) > 10, where
        assert CAMEL.match(operation["operationId"]), where
        ids[operation["operationId"]] += 1
    assert [name for name, count in ids.items() if count > 1] == []
    by_id = {operation["operationId"]: path for _, path, operation in _operations(document)}
    assert by_id["listProjects"] == "/api/v1/orgs/{org_id}/projects"
    assert by_id["startTimer"] == "/api/v1/orgs/{org_id}/timer"
    assert by_id["readMe"] == "/api/v1/me"


def _problem_ref(response: dict[str, Any]) -> str:
    return str(response["content"]["application/problem+json"]["schema"]["$ref"])


def test_every_operation_documents_the_errors_it_can_return(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        where = f"{method.upper()} {path}"
        responses = operation["responses"]
        errors = {status for status in responses if status[0] in "45"}
        for status in errors:
            expected = "ValidationProblem" if status == "422" else "Problem"
            assert _problem_ref(responses[status]).endswith("/" + expected), (where, status)
        if not path.startswith("/api/v1"):
            continue
        assert {"401", "429", "503"} <= errors, where
        if "{org_id}" in path:
            assert {"403", "404", "409"} <= errors, where
        has_input = bool(operation.get("parameters")) or "requestBody" in operation
        assert ("422" in errors) == has_input, where
        if "requestBody" in operation:
            assert {"413", "415"} <= errors, where
        assert operation["security"] == [{"keycloak": []}], where
    me = document["paths"]["/api/v1/me"]["get"]["responses"]
    assert "422" not in me and "403" not in me


def test_problem_components_replace_fastapis_validation_error(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert set(schemas["Problem"]["required"]) == {"type", "title", "status"}
    errors = schemas["ValidationProblem"]["allOf"][1]["properties"]["errors"]
    item = schemas[errors["items"]["$ref"].rsplit("/", 1)[1]]
    assert set(item["properties"]) == {"location", "message", "type"}
    assert referenced_schemas(document) <= set(schemas)


def test_document_level_information(document: dict[str, Any]) -> None:
    assert "problem+json" in document["info"]["description"]
    assert document["servers"]
    used = {tag for _, _, operation in _operations(document) for tag in operation.get("tags", [])}
    declared = {tag["name"]: tag["description"] for tag in document["tags"]}
    assert used == set(declared)
    assert all(description.strip() for description in declared.values())
    assert document["components"]["securitySchemes"]["keycloak"]["type"] == "oauth2"


def test_main_create_bodies_carry_examples(document: dict[str, Any]) -> None:
    for path in ("/api/v1/orgs", "/api/v1/orgs/{org_id}/projects", "/api/v1/orgs/{org_id}/time-entries"):
        body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        assert body["example"], path


async def test_the_validation_problem_schema_matches_what_the_handler_returns(
    client: Any, tokens: Any, document: dict[str, Any]
) -> None:
    response = await client.post("/api/v1/orgs", json={"name": 5}, headers=await tokens.headers("alice"))
    assert response.status_code == 422
    body = response.json()
    assert set(document["components"]["schemas"]["Problem"]["required"]) <= set(body)
    for error in body["errors"]:
        assert set(error) == {"location", "message", "type"}
