"""One post-processing step that makes the OpenAPI document worth generating clients from.

It runs over every operation, so routes added later get the same treatment without touching their
router:

- ``operationId``: the endpoint function's name in camelCase (``list_projects`` -> ``listProjects``);
- ``summary`` in sentence case (``List projects``) unless the route sets one, and a ``description``
  (the endpoint's docstring, else one derived from the summary and the route's scope);
- the error responses the route can really return, derived from its path and inputs, each a
  ``application/problem+json`` document (``Problem``, or ``ValidationProblem`` for 422, which replaces
  FastAPI's ``HTTPValidationError``);
- request examples, tag descriptions, ``servers`` and the security requirement where given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import routing

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"
VALIDATION_PROBLEM_REF = "#/components/schemas/ValidationProblem"
HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "An RFC 9457 problem document (`application/problem+json`).",
    "properties": {
        "type": {"type": "string", "format": "uri", "description": "Identifies the kind of problem."},
        "title": {"type": "string", "description": "A short summary of the kind of problem."},
        "status": {"type": "integer", "description": "The HTTP status code."},
        "detail": {"type": "string", "description": "What went wrong this time."},
        "instance": {"type": "string", "description": "The request path."},
        "request_id": {"type": "string", "description": "Quote it when reporting a problem."},
    },
    "required": ["type", "title", "status"],
    "additionalProperties": True,
}
VALIDATION_ERROR_SCHEMA: dict[str, Any] = {
    "title": "ValidationErrorItem",
    "type": "object",
    "properties": {
        "location": {
            "type": "array",
            "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "description": "Where the bad value is: `body`, `query`, `path` or `header`, then field names "
            "and list indexes.",
        },
        "message": {"type": "string", "description": "What is wrong with it."},
        "type": {"type": "string", "description": "A machine-readable error code."},
    },
    "required": ["location", "message", "type"],
}
VALIDATION_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "ValidationProblem",
    "description": "A 422 problem document listing every field that failed validation.",
    "allOf": [
        {"$ref": PROBLEM_REF},
        {
            "type": "object",
            "properties": {"errors": {"type": "array", "items": {"$ref": "#/components/schemas/ValidationErrorItem"}}},
            "required": ["errors"],
        },
    ],
}

_ERRORS: dict[str, str] = {
    "401": "The bearer token is missing, expired or not valid.",
    "403": "Your role here does not allow this.",
    "404": "No such organization (non-members get this too), or no such resource in it.",
    "409": "The change conflicts with the current state, e.g. a write in an archived organization or project.",
    "412": "The `If-Match` precondition failed: the resource changed since you read it.",
    "413": "The request body is too large.",
    "415": "The request body's media type is not supported.",
    "422": "The request is not valid; `errors` lists every field that failed.",
    "429": "Too many requests; retry after `Retry-After` seconds.",
    "503": "A service the platform depends on is unavailable; retry shortly.",
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}


def camel_case(name: str) -> str:
    head, *rest = [part for part in name.split("_") if part]
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def sentence_case(name: str) -> str:
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def endpoint_names(routes: Iterable[Any]) -> dict[tuple[str, str], str]:
    """(path, lower-case method) -> the endpoint function's name, for every route FastAPI documents."""
    names: dict[tuple[str, str], str] = {}
    for context in routing.iter_route_contexts(list(routes)):
        methods = getattr(context, "methods", None) or ()
        if context.path is None or context.name is None:
            continue
        for method in methods:
            names[(context.path, method.lower())] = context.name
    return names


def error_statuses(path: str, method: str, operation: Mapping[str, Any], *, api_prefix: str) -> list[str]:
    """The error statuses a route can really return, derived from its path and its inputs."""
    statuses: set[str] = set()
    if path.startswith(api_prefix):
        statuses |= {"401", "429", "503"}
    else:
        statuses.add("503")
    if path.startswith(api_prefix) and method in ("post", "put", "patch", "delete"):
        statuses.add("409")  # writes can clash with the current state (a taken slug, a running timer)
    if "{org_id}" in path:
        statuses |= {"403", "404", "409"}
    elif "{" in path:
        statuses.add("404")
    parameters = operation.get("parameters") or []
    if parameters:
        statuses.add("422")
    if "requestBody" in operation:
        statuses |= {"413", "415", "422"}
    if any(
        parameter.get("in") == "header" and parameter.get("name", "").lower() == "if-match" for parameter in parameters
    ):
        statuses.add("412")
    return sorted(statuses)


def _problem_response(status: str, *, default: str | None = None) -> dict[str, Any]:
    ref = VALIDATION_PROBLEM_REF if status == "422" else PROBLEM_REF
    response: dict[str, Any] = {
        "description": default or _ERRORS[status],
        "content": {PROBLEM_JSON: {"schema": {"$ref": ref}}},
    }
    if status in ("429", "503"):
        response["headers"] = dict(_RETRY_AFTER)
    if status == "401":
        response["headers"] = {
            "WWW-Authenticate": {"description": "The Bearer challenge.", "schema": {"type": "string"}}
        }
    return response


def _default_description(path: str, summary: str, *, api_prefix: str) -> str:
    if not path.startswith(api_prefix):
        return f"{summary}. Needs no token."
    if "{project_id}" in path:
        scope = "Acts inside one project of the organization; the caller must be an active member."
    elif "{org_id}" in path:
        scope = "Acts inside the organization; the caller must be an active member (others get 404)."
    else:
        scope = "Acts for the signed-in caller."
    return f"{summary}. {scope} Errors are `application/problem+json` documents."


def postprocess(
    schema: dict[str, Any],
    *,
    routes: Iterable[Any],
    api_prefix: str,
    security: list[dict[str, list[str]]] | None = None,
    tag_descriptions: Mapping[str, str] | None = None,
    request_examples: Mapping[str, Any] | None = None,
    extra_errors: Mapping[str, Iterable[str]] | None = None,
) -> dict[str, Any]:
    """Rewrite ``schema`` (FastAPI's document) in place and return it."""
    names = endpoint_names(routes)
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["ValidationErrorItem"] = VALIDATION_ERROR_SCHEMA
    schemas["ValidationProblem"] = VALIDATION_PROBLEM_SCHEMA

    used_tags: list[str] = []
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in HTTP_METHODS:
                continue
            name = names.get((path, method))
            if name:
                operation["operationId"] = camel_case(name)
                default_summary = name.replace("_", " ").title()
                if not operation.get("summary") or operation["summary"] == default_summary:
                    operation["summary"] = sentence_case(name)
            summary = operation.get("summary") or operation["operationId"]
            if not (operation.get("description") or "").strip():
                operation["description"] = _default_description(path, summary, api_prefix=api_prefix)

            responses = operation.setdefault("responses", {})
            if method == "post" and path.startswith(api_prefix) and ({"201", "202"} & set(responses)):
                _document_idempotency(operation)
            responses.pop("422", None)  # FastAPI's HTTPValidationError; re-added below when input exists
            statuses = set(error_statuses(path, method, operation, api_prefix=api_prefix))
            statuses |= set((extra_errors or {}).get(operation.get("operationId", ""), ()))
            statuses |= {status for status in responses if status[:1] in {"4", "5"}}  # a route's own, too
            for status in sorted(statuses):
                existing = responses.get(status)
                description = existing.get("description") if isinstance(existing, dict) else None
                responses[status] = _problem_response(status, default=description)

            if method == "post":
                _document_location(schema, path, responses)

            example = (request_examples or {}).get(operation.get("operationId", ""))
            if example is not None:
                content = operation.get("requestBody", {}).get("content", {}).get("application/json")
                if content is not None:
                    content["example"] = example

            if security is not None and path.startswith(api_prefix):
                operation["security"] = security
            for tag in operation.get("tags", []):
                if tag not in used_tags:
                    used_tags.append(tag)

    descriptions = tag_descriptions or {}
    schema["tags"] = [
        {"name": tag, "description": descriptions.get(tag) or f"Operations on {tag}."} for tag in sorted(used_tags)
    ]
    return schema


IDEMPOTENCY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Your unique value for this create: a retry with the same key and body returns the first "
    "answer (`Idempotent-Replayed: true`) and creates nothing; the same key with another body is a 422.",
    "schema": {"type": "string", "maxLength": 255},
}


def _document_idempotency(operation: dict[str, Any]) -> None:
    parameters = operation.setdefault("parameters", [])
    if not any(parameter.get("name") == "Idempotency-Key" for parameter in parameters):
        parameters.append(IDEMPOTENCY_PARAMETER)


def _document_location(schema: Mapping[str, Any], path: str, responses: dict[str, Any]) -> None:
    """A POST answered with 201/202 names the new resource in ``Location`` when a GET serves it."""
    item = re.compile(re.escape(path.rstrip("/")) + r"/\{[^/}]+\}$")
    if not any(item.match(other) and "get" in ops for other, ops in schema.get("paths", {}).items()):
        return
    for status in ("201", "202"):
        if isinstance(responses.get(status), dict):
            responses[status].setdefault("headers", {})["Location"] = {
                "description": "The URL of the created resource.",
                "schema": {"type": "string"},
            }


_BARE_REF = re.compile(r"^#/components/schemas/(.+)$")


def referenced_schemas(schema: Any) -> set[str]:
    """Every component schema name ``schema`` references (for tests and clean-ups)."""
    found: set[str] = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str) and (match := _BARE_REF.match(value)):
                found.add(match.group(1))
            else:
                found |= referenced_schemas(value)
    elif isinstance(schema, list):
        for item in schema:
            found |= referenced_schemas(item)
    return found
