from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from backend.core.db import Database
from backend.core.pagination import Page, Paging
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
DOMAINS = "/orgs/{org_id}/sso/domains"
DomainName = Annotated[str, Path(max_length=253)]
ROLE_MAPPINGS = "/orgs/{org_id}/sso/role-mappings"
SETTINGS = "/orgs/{org_id}/sso/settings"


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


@router.get(DOMAINS, summary="List the organization's claimed email domains")
async def list_sso_domains(ctx: CurrentOrg) -> list[schemas.DomainRead]:
    return await service.list_domains(ctx)


@router.post(
    DOMAINS,
    status_code=status.HTTP_201_CREATED,
    summary="Claim an email domain (one organization per domain); the answer names the TXT record to publish",
)
async def claim_sso_domain(ctx: CurrentOrg, data: schemas.DomainClaim) -> schemas.DomainRead:
    return await service.claim_domain(ctx, data)


@router.get(DOMAINS + "/{domain}", summary="Read a claimed email domain and its TXT record")
async def read_sso_domain(ctx: CurrentOrg, domain: DomainName) -> schemas.DomainRead:
    return await service.get_domain(ctx, domain)


@router.post(
    DOMAINS + "/{domain}/verify",
    summary="Verify a claimed domain: look its DNS TXT record up; once verified it routes sign-ins to SSO",
)
async def verify_sso_domain(
    org: CurrentOrgTransactions, directory: CurrentDirectory, settings: AppSettings, domain: DomainName
) -> schemas.DomainRead:
    return await service.verify_domain(org, directory, settings, domain)


@router.delete(DOMAINS + "/{domain}", status_code=status.HTTP_204_NO_CONTENT, summary="Release a claimed domain")
async def release_sso_domain(org: CurrentOrgTransactions, directory: CurrentDirectory, domain: DomainName) -> Response:
    await service.release_domain(org, directory, domain)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(ROLE_MAPPINGS, summary="List the claim-to-role mappings applied on SSO sign-ins")
async def list_sso_role_mappings(ctx: CurrentOrg, page: Paging) -> Page[schemas.RoleMappingRead]:
    return await service.list_role_mappings(ctx, page)


@router.post(
    ROLE_MAPPINGS,
    status_code=status.HTTP_201_CREATED,
    summary="Map a claim value to a role (claim `groups` contains `eng-leads` -> admin); at most the SSO role cap",
)
async def create_sso_role_mapping(ctx: CurrentOrg, data: schemas.RoleMappingCreate) -> schemas.RoleMappingRead:
    return await service.create_role_mapping(ctx, data)


@router.delete(
    ROLE_MAPPINGS + "/{mapping_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a claim-to-role mapping"
)
async def delete_sso_role_mapping(ctx: CurrentOrg, mapping_id: CanonicalUUID) -> Response:
    await service.delete_role_mapping(ctx, mapping_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(SETTINGS, summary="Read the organization's SSO settings (default role, enforced SSO)")
async def read_sso_settings(ctx: CurrentOrg) -> schemas.SsoSettingsRead:
    return await service.get_settings(ctx)


@router.patch(SETTINGS, summary="Change the SSO default role or enforce single sign-on")
async def update_sso_settings(ctx: CurrentOrg, data: schemas.SsoSettingsUpdate) -> schemas.SsoSettingsRead:
    return await service.update_settings(ctx, data)


@router.get(
    "/sso/discover",
    summary="Home-realm discovery (no token): which way a person with this email address signs in",
)
async def discover_sso(
    request: Request, email: Annotated[str, Query(min_length=3, max_length=320)]
) -> schemas.Discovery:
    db: Database = request.app.state.db
    async with db.transaction() as session:
        return await service.discover(session, email)
