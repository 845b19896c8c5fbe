from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from backend.core.validation import CanonicalUUID
from backend.settings import Settings
from backend.sso import schemas, service
from backend.tenancy.context import CurrentOrg, CurrentOrgTransactions
from backend.tenancy.directory import CurrentDirectory

router = APIRouter(tags=["single sign-on"])


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(settings_of)]
PROVIDERS = "/orgs/{org_id}/sso/providers"


@router.get(PROVIDERS, summary="List the organization's identity providers")
async def list_sso_providers(ctx: CurrentOrg, settings: AppSettings) -> list[schemas.ProviderRead]:
    return await service.list_providers(ctx, settings)


@router.post(
    PROVIDERS,
    status_code=status.HTTP_201_CREATED,
    summary="Connect an identity provider (OIDC discovery or SAML metadata; checked before it is saved)",
)
async def create_sso_provider(
    org: CurrentOrgTransactions, directory: CurrentDirectory, settings: AppSettings, data: schemas.ProviderCreate
) -> schemas.ProviderRead:
    return await service.create_provider(org, directory, settings, data)


@router.get(PROVIDERS + "/{provider_id}", summary="Read an identity provider (secrets are never shown)")
async def read_sso_provider(ctx: CurrentOrg, settings: AppSettings, provider_id: CanonicalUUID) -> schemas.ProviderRead:
    return await service.get_provider(ctx, settings, provider_id)


@router.patch(PROVIDERS + "/{provider_id}", summary="Change an identity provider")
async def update_sso_provider(
    org: CurrentOrgTransactions,
    directory: CurrentDirectory,
    settings: AppSettings,
    provider_id: CanonicalUUID,
    data: schemas.ProviderUpdate,
) -> schemas.ProviderRead:
    return await service.update_provider(org, directory, settings, provider_id, data)


@router.delete(
    PROVIDERS + "/{provider_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Disconnect an identity provider"
)
async def delete_sso_provider(
    org: CurrentOrgTransactions, directory: CurrentDirectory, provider_id: CanonicalUUID
) -> Response:
    await service.delete_provider(org, directory, provider_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    PROVIDERS + "/{provider_id}/test",
    summary="Test the connection: fetch the provider's discovery document or metadata and check it",
)
async def test_sso_provider(
    org: CurrentOrgTransactions, directory: CurrentDirectory, settings: AppSettings, provider_id: CanonicalUUID
) -> schemas.ConnectionTest:
    return await service.test_provider(org, directory, settings, provider_id)
