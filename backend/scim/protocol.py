"""SCIM's wire format: responses as ``application/scim+json``, errors in SCIM's own error schema
(``urn:ietf:params:scim:api:messages:2.0:Error``) and the discovery documents (RFC 7644 section 4)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from scim2_models import (
    Bulk,
    ChangePassword,
    Error,
    ETag,
    Filter,
    Group,
    ListResponse,
    Patch,
    ResourceType,
    Schema,
    ServiceProviderConfig,
    Sort,
    User,
)

MEDIA_TYPE = "application/scim+json"
MAX_RESULTS = 200


class ScimError(Exception):
    """A SCIM error answer: HTTP ``status`` and, where RFC 7644 defines one, its ``scim_type``."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type


class ScimResponse(JSONResponse):
    media_type = MEDIA_TYPE


def scim_json(body: Any, status: int = 200) -> ScimResponse:
    return ScimResponse(body, status_code=status)


async def handle_scim_error(_request: Request, exc: Exception) -> ScimResponse:
    assert isinstance(exc, ScimError)
    error = Error(status=exc.status, detail=exc.detail, scim_type=exc.scim_type)
    return scim_json(error.model_dump(mode="json", exclude_none=True), exc.status)


def service_provider_config() -> dict[str, Any]:
    config = ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
    )
    body: dict[str, Any] = config.model_dump(mode="json", exclude_none=True)
    body["authenticationSchemes"] = [
        {
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "The organization's SCIM secret, created by an owner or admin (docs/sso.md).",
            "primary": True,
        }
    ]
    return body


def _list(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": len(resources),
        "startIndex": 1,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


def schemas_list() -> dict[str, Any]:
    found: list[Schema] = [User.to_schema(), Group.to_schema()]
    return _list([s.model_dump(mode="json", exclude_none=True) for s in found])


def schema(schema_id: str) -> dict[str, Any]:
    for resource in (User, Group):
        found = resource.to_schema()
        if found.id == schema_id:
            body: dict[str, Any] = found.model_dump(mode="json", exclude_none=True)
            return body
    raise ScimError(404, "No such schema.")


def resource_types() -> dict[str, Any]:
    return _list([ResourceType.from_resource(r).model_dump(mode="json", exclude_none=True) for r in (User, Group)])


def resource_type(name: str) -> dict[str, Any]:
    for resource in (User, Group):
        found = ResourceType.from_resource(resource)
        if found.id == name:
            body: dict[str, Any] = found.model_dump(mode="json", exclude_none=True)
            return body
    raise ScimError(404, "No such resource type.")


__all__ = ["ListResponse", "ScimError"]
