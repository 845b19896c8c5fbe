"""Two faces: ``/api/v1/orgs/{org_id}/sso/scim-token`` (admins manage the secret, signed in as usual)
and ``/scim/v2/orgs/{org_id}/...`` (the identity provider, with the SCIM secret as its bearer)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status

from backend.core.db import Database
from backend.core.validation import CanonicalUUID
from backend.scim import protocol, schemas, service
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
