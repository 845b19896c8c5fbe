"""Two faces: ``/api/v1/orgs/{org_id}/sso/scim-token`` (admins manage the secret, signed in as usual)
and ``/scim/v2/orgs/{org_id}/...`` (the identity provider, with the SCIM secret as its bearer)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status

from backend.core.db import Database
from backend.core.validation import CanonicalUUID
from backend.scim import groups, protocol, schemas, service, users
from backend.scim.protocol import ScimError, ScimResponse
from backend.tenancy.context import CurrentOrg

router = APIRouter(tags=["SCIM provisioning"])
TOKEN = "/orgs/{org_id}/sso/scim-token"


@router.get(TOKEN, summary="Read the organization's SCIM secret's hint and last use (never the secret)")
async def read_scim_token(ctx: CurrentOrg) -> schemas.ScimTokenRead:
    return await service.read_token(ctx)


@router.post(
    TOKEN,
    status_code=status.HTTP_201_CREATED,
    summary="Create or rotate the organization's SCIM secret (shown once; the previous one stops at once)",
)
async def rotate_scim_token(ctx: CurrentOrg) -> schemas.ScimTokenCreated:
    return await service.rotate_token(ctx)


@router.delete(TOKEN, status_code=status.HTTP_204_NO_CONTENT, summary="Revoke the SCIM secret (SCIM off)")
async def revoke_scim_token(ctx: CurrentOrg) -> Response:
    await service.revoke_token(ctx)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def scim_caller(request: Request, org_id: CanonicalUUID) -> None:
    """The identity provider of ``org_id``: anything else (no secret, a wrong or another organization's
    secret, an unknown organization) gets the same 404, so nothing is revealed."""
    db: Database = request.app.state.db
    scheme, _, secret = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not await service.authenticate(db, org_id, secret.strip()):
        raise ScimError(404, "Not found.")


scim_router = APIRouter(
    prefix="/scim/v2/orgs/{org_id}",
    tags=["SCIM provisioning"],
    dependencies=[Depends(scim_caller)],
    default_response_class=ScimResponse,
)


@scim_router.get("/ServiceProviderConfig", summary="SCIM: what this service provider supports")
async def scim_service_provider_config() -> ScimResponse:
    return protocol.scim_json(protocol.service_provider_config())


@scim_router.get("/Schemas", summary="SCIM: the resource schemas")
async def scim_schemas() -> ScimResponse:
    return protocol.scim_json(protocol.schemas_list())


@scim_router.get("/Schemas/{schema_id}", summary="SCIM: one resource schema")
async def scim_schema(schema_id: str) -> ScimResponse:
    return protocol.scim_json(protocol.schema(schema_id))


@scim_router.get("/ResourceTypes", summary="SCIM: the resource types")
async def scim_resource_types() -> ScimResponse:
    return protocol.scim_json(protocol.resource_types())


@scim_router.get("/ResourceTypes/{name}", summary="SCIM: one resource type")
async def scim_resource_type(name: str) -> ScimResponse:
    return protocol.scim_json(protocol.resource_type(name))


def scim_context(request: Request, org_id: CanonicalUUID) -> users.Scim:
    state = request.app.state
    return users.Scim(
        org_id=org_id,
        db=state.db,
        idp=state.idp,
        redis=state.redis,
        revocations=state.verifier.revocations,
        base_url=f"{str(request.base_url).rstrip('/')}/scim/v2/orgs/{org_id}",
    )


ScimCtx = Annotated[users.Scim, Depends(scim_context)]


async def scim_body(request: Request) -> dict[str, Any]:
    """The request's JSON object (``application/scim+json`` or ``application/json``)."""
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise ScimError(400, "The body is not valid JSON.", "invalidSyntax") from None
    if not isinstance(body, dict):
        raise ScimError(400, "The body must be a JSON object.", "invalidSyntax")
    return body


Body = Annotated[dict[str, Any], Depends(scim_body)]


@scim_router.get("/Users", summary='SCIM: list users (filter: userName eq "...")')
async def scim_list_users(
    scim: ScimCtx,
    filter_: Annotated[str | None, Query(alias="filter", max_length=1000)] = None,
    start_index: Annotated[int, Query(alias="startIndex")] = 1,
    count: Annotated[int | None, Query()] = None,
) -> ScimResponse:
    return protocol.scim_json(await users.list_users(scim, filter_=filter_, start_index=start_index, count=count))


@scim_router.post("/Users", status_code=status.HTTP_201_CREATED, summary="SCIM: create (provision) a user")
async def scim_create_user(scim: ScimCtx, body: Body) -> ScimResponse:
    created = await users.create_user(scim, body)
    answer = protocol.scim_json(created, status.HTTP_201_CREATED)
    answer.headers["Location"] = created["meta"]["location"]
    return answer


@scim_router.get("/Users/{user_id}", summary="SCIM: read a user")
async def scim_get_user(scim: ScimCtx, user_id: str) -> ScimResponse:
    return protocol.scim_json(await users.get_user(scim, user_id))


@scim_router.patch("/Users/{user_id}", summary="SCIM: change a user (active false deactivates, true reactivates)")
async def scim_patch_user(scim: ScimCtx, user_id: str, body: Body) -> ScimResponse:
    return protocol.scim_json(await users.patch_user(scim, user_id, body))


@scim_router.delete("/Users/{user_id}", status_code=status.HTTP_204_NO_CONTENT, summary="SCIM: remove a user")
async def scim_delete_user(scim: ScimCtx, user_id: str) -> Response:
    await users.delete_user(scim, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


Excluded = Annotated[str | None, Query(alias="excludedAttributes", max_length=200)]


@scim_router.get("/Groups", summary='SCIM: list groups (filter: displayName eq "..." or externalId eq "...")')
async def scim_list_groups(
    scim: ScimCtx,
    excluded: Excluded = None,
    filter_: Annotated[str | None, Query(alias="filter", max_length=1000)] = None,
    start_index: Annotated[int, Query(alias="startIndex")] = 1,
    count: Annotated[int | None, Query()] = None,
) -> ScimResponse:
    found = await groups.list_groups(scim, filter_=filter_, start_index=start_index, count=count, excluded=excluded)
    return protocol.scim_json(found)


@scim_router.post("/Groups", status_code=status.HTTP_201_CREATED, summary="SCIM: create a group")
async def scim_create_group(scim: ScimCtx, body: Body) -> ScimResponse:
    created = await groups.create_group(scim, body)
    answer = protocol.scim_json(created, status.HTTP_201_CREATED)
    answer.headers["Location"] = created["meta"]["location"]
    return answer


@scim_router.get("/Groups/{group_id}", summary="SCIM: read a group and its members")
async def scim_get_group(scim: ScimCtx, group_id: str, excluded: Excluded = None) -> ScimResponse:
    return protocol.scim_json(await groups.get_group(scim, group_id, excluded=excluded))


@scim_router.put("/Groups/{group_id}", summary="SCIM: replace a group (name, external id, members)")
async def scim_replace_group(scim: ScimCtx, group_id: str, body: Body) -> ScimResponse:
    return protocol.scim_json(await groups.replace_group(scim, group_id, body))


@scim_router.patch("/Groups/{group_id}", summary="SCIM: change a group (members added or removed, renamed)")
async def scim_patch_group(scim: ScimCtx, group_id: str, body: Body) -> ScimResponse:
    return protocol.scim_json(await groups.patch_group(scim, group_id, body))


@scim_router.delete("/Groups/{group_id}", status_code=status.HTTP_204_NO_CONTENT, summary="SCIM: delete a group")
async def scim_delete_group(scim: ScimCtx, group_id: str) -> Response:
    await groups.delete_group(scim, group_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
