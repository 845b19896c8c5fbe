"""An organization's single sign-on: its identity providers (OIDC or SAML, brokered by Keycloak).

Calls to Keycloak and to the provider run between short transactions, never inside one (as invitations
do, backend/members/service.py): (1) a transaction authorizes and reads what is needed; (2) the
provider's discovery document or metadata is fetched and checked, and Keycloak is changed; (3) a second
transaction authorizes again, writes the row and the audit event. When (3) fails, Keycloak is put back,
so nothing is half-written on either side. Secrets go to Keycloak only: never stored here, returned,
audited or logged.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import structlog
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.core import audit
from backend.core.db import Database
from backend.core.errors import Conflict, DependencyUnavailable, NotFound, UnprocessableContent
from backend.core.models import utcnow
from backend.core.pagination import Page, PageParams, paginate
from backend.settings import Settings
from backend.sso import connection, domains, login, schemas
from backend.sso.connection import ConnectionProblem, OidcEndpoints, SamlIdp
from backend.sso.keycloak import Providers, broker_endpoint, oidc_representation, saml_representation
from backend.sso.models import ProviderKind, SsoDomain, SsoProvider, SsoRoleMapping, SsoSettings
from backend.tenancy import guard, memberships, mirror
from backend.tenancy.context import OrgContext, OrgTransactions
from backend.tenancy.directory import Directory
from backend.tenancy.roles import OrgRole

log = structlog.get_logger(__name__)

READ, MANAGE = "sso:read", "sso:manage"
#: Applied on the request path when an SSO token's claims changed (installed by the app factory).
apply_login = login.apply_login
#: The organization's SCIM groups changed: their members' roles follow the mappings (backend/scim/groups.py).
apply_scim_groups = login.apply_scim_groups


def _read(settings: Settings, row: SsoProvider) -> schemas.ProviderRead:
    saml = row.kind == ProviderKind.SAML
    endpoint = broker_endpoint(settings, row.idp_alias)
    return schemas.ProviderRead(
        id=row.id,
        kind=ProviderKind(row.kind).value,
        display_name=row.display_name,
        enabled=row.enabled,
        idp_alias=row.idp_alias,
        discovery_url=row.discovery_url,
        client_id=row.client_id,
        has_client_secret=not saml,
        scopes=list(row.scopes),
        metadata_url=row.metadata_url,
        has_metadata_xml=row.has_metadata_xml,
        redirect_uri=endpoint,
        saml_entity_id=settings.keycloak_issuer if saml else None,
        saml_metadata_url=f"{endpoint}/descriptor" if saml else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _state(row: SsoProvider) -> dict[str, Any]:
    """What the audit trail records of a provider (never a secret, never the metadata itself)."""
    return {
        "kind": row.kind,
        "display_name": row.display_name,
        "enabled": row.enabled,
        "idp_alias": row.idp_alias,
        "discovery_url": row.discovery_url,
        "client_id": row.client_id,
        "scopes": list(row.scopes),
        "metadata_url": row.metadata_url,
        "has_metadata_xml": row.has_metadata_xml,
    }


def _invalid(problem: ConnectionProblem) -> UnprocessableContent:
    return UnprocessableContent(problem.message, extra={"field": problem.field})


async def _fetch_oidc(settings: Settings, url: str) -> OidcEndpoints:
    try:
        return await connection.fetch_oidc(settings, url)
    except ConnectionProblem as problem:
        raise _invalid(problem) from None


async def _fetch_saml(settings: Settings, url: str | None, xml: str | None) -> SamlIdp:
    try:
        if url is not None:
            idp, _ = await connection.fetch_saml_metadata(settings, url)
            return idp
        assert xml is not None
        return connection.parse_saml_metadata(xml)
    except ConnectionProblem as problem:
        raise _invalid(problem) from None


async def _kc_org_id(org: OrgTransactions, directory: Directory) -> str:
    """The organization's Keycloak copy, made now if it went missing."""
    found = await directory.find(org.org_id)
    if found is None:
        async with org.transaction() as ctx:
            wanted = await mirror.load(ctx.session, ctx.org_id)
        assert wanted is not None
        await directory.sync(wanted)
        found = await directory.find(org.org_id)
        assert found is not None
    return str(found["id"])


async def _get(ctx: OrgContext, provider_id: uuid.UUID, *, lock: bool = False) -> SsoProvider:
    row = await ctx.session.get(SsoProvider, (ctx.org_id, provider_id), with_for_update=lock)
    if row is None:
        raise NotFound("No such identity provider in this organization.")
    return row


async def list_providers(ctx: OrgContext, settings: Settings) -> list[schemas.ProviderRead]:
    guard.require(ctx, READ)
    rows = await ctx.session.scalars(
        select(SsoProvider)
        .where(col(SsoProvider.org_id) == ctx.org_id)
        .order_by(col(SsoProvider.created_at), col(SsoProvider.id))
    )
    return [_read(settings, row) for row in rows]


async def get_provider(ctx: OrgContext, settings: Settings, provider_id: uuid.UUID) -> schemas.ProviderRead:
    guard.require(ctx, READ)
    return _read(settings, await _get(ctx, provider_id))


async def _verified_domains(ctx: OrgContext) -> set[str]:
    rows = await ctx.session.scalars(
        select(col(SsoDomain.domain)).where(
            col(SsoDomain.org_id) == ctx.org_id, col(SsoDomain.verified_at).is_not(None)
        )
    )
    return set(rows)


async def _aliases(ctx: OrgContext) -> list[str]:
    rows = await ctx.session.scalars(select(col(SsoProvider.idp_alias)).where(col(SsoProvider.org_id) == ctx.org_id))
    return list(rows)


async def create_provider(
    org: OrgTransactions, directory: Directory, settings: Settings, data: schemas.ProviderCreate
) -> schemas.ProviderRead:
    async with org.transaction() as ctx:
        guard.require(ctx, MANAGE)
        verified = await _verified_domains(ctx)
    provider_id = uuid.uuid4()
    alias = f"wt-{org.org_id.hex[:8]}-{provider_id.hex[:8]}"
    if isinstance(data, schemas.OidcProviderCreate):
        endpoints = await _fetch_oidc(settings, data.discovery_url)
        representation = oidc_representation(
            alias,
            data.display_name,
            True,
            endpoints,
            client_id=data.client_id,
            client_secret=data.client_secret.get_secret_value(),
            scopes=data.scopes,
        )
        row = SsoProvider(
            org_id=org.org_id,
            id=provider_id,
            idp_alias=alias,
            kind=ProviderKind.OIDC.value,
            display_name=data.display_name,
            discovery_url=connection.discovery_url(data.discovery_url),
            client_id=data.client_id,
            scopes=data.scopes,
        )
    else:
        idp = await _fetch_saml(settings, data.metadata_url, data.metadata_xml)
        representation = saml_representation(
            settings, alias, data.display_name, True, idp, metadata_url=data.metadata_url
        )
        row = SsoProvider(
            org_id=org.org_id,
            id=provider_id,
            idp_alias=alias,
            kind=ProviderKind.SAML.value,
            display_name=data.display_name,
            metadata_url=data.metadata_url,
            has_metadata_xml=data.metadata_xml is not None,
        )
    providers = Providers(directory)
    await providers.create(await _kc_org_id(org, directory), representation, verified)
    try:
        async with org.transaction() as ctx:
            guard.require(ctx, MANAGE)
            ctx.session.add(row)
            await ctx.session.flush()
            await audit.record_in(
                ctx, action="sso_provider.created", resource_type="sso_provider", resource_id=row.id, after=_state(row)
            )
            await login.forget(ctx.session, ctx.org_id)  # people at its domains who signed in already
            return _read(settings, row)
    except BaseException:
        await providers.delete(alias)
        raise


async def update_provider(
    org: OrgTransactions,
    directory: Directory,
    settings: Settings,
    provider_id: uuid.UUID,
    data: schemas.ProviderUpdate,
) -> schemas.ProviderRead:
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    async with org.transaction() as ctx:
        guard.require(ctx, MANAGE)
        current = await _get(ctx, provider_id)
        verified = await _verified_domains(ctx)
    oidc = current.kind == ProviderKind.OIDC
    wrong = (
        {"metadata_url", "metadata_xml"} & set(changes)
        if oidc
        else {
            "discovery_url",
            "client_id",
            "client_secret",
            "scopes",
        }
        & set(changes)
    )
    if wrong:
        raise UnprocessableContent(
            f"A {current.kind.upper()} provider has no {', '.join(sorted(wrong))}.", extra={"field": sorted(wrong)[0]}
        )
    display_name = data.display_name or current.display_name
    enabled = current.enabled if data.enabled is None else data.enabled
    providers = Providers(directory)
    before = await providers.get(current.idp_alias)
    if oidc:
        discovery = data.discovery_url or current.discovery_url
        assert discovery is not None
        representation = oidc_representation(
            current.idp_alias,
            display_name,
            enabled,
            await _fetch_oidc(settings, discovery),
            client_id=data.client_id or current.client_id or "",
            client_secret=data.client_secret.get_secret_value() if data.client_secret else None,
            scopes=data.scopes or list(current.scopes),
        )
    else:
        metadata_url = data.metadata_url if data.metadata_xml is None else None
        if data.metadata_xml is None and metadata_url is None:
            metadata_url = current.metadata_url
        if metadata_url is None and data.metadata_xml is None:
            # Pasted metadata is not kept here: Keycloak's copy of it stays as it is.
            representation = {"displayName": display_name, "enabled": enabled, "config": {}}
        else:
            idp = await _fetch_saml(settings, metadata_url, data.metadata_xml)
            representation = saml_representation(
                settings, current.idp_alias, display_name, enabled, idp, metadata_url=metadata_url
            )
    await providers.update(current.idp_alias, representation, verified)
    try:
        async with org.transaction() as ctx:
            guard.require(ctx, MANAGE)
            row = await _get(ctx, provider_id, lock=True)
            old = _state(row)
            row.display_name, row.enabled = display_name, enabled
            if oidc:
                row.discovery_url = connection.discovery_url(data.discovery_url or row.discovery_url or "")
                row.client_id = data.client_id or row.client_id
                row.scopes = data.scopes or row.scopes
            elif data.metadata_xml is not None:
                row.metadata_url, row.has_metadata_xml = None, True
            elif data.metadata_url is not None:
                row.metadata_url, row.has_metadata_xml = data.metadata_url, False
            row.updated_at = utcnow()
            await ctx.session.flush()
            after = _state(row)
            if data.client_secret is not None:
                after["client_secret"] = "changed"  # that it changed, never what it is
            await audit.record_in(
                ctx,
                action="sso_provider.updated",
                resource_type="sso_provider",
                resource_id=row.id,
                before=old,
                after=after,
            )
            if row.enabled and not old["enabled"]:
                await login.forget(ctx.session, ctx.org_id)
            return _read(settings, row)
    except BaseException:
        if before is not None:  # put Keycloak back as it was (the stored secret stays what it was)
            before.get("config", {}).pop("clientSecret", None)
            await providers.update(current.idp_alias, {**before, "config": before.get("config", {})})
        raise


async def delete_provider(org: OrgTransactions, directory: Directory, provider_id: uuid.UUID) -> None:
    """Disconnect a provider. People who signed in through it keep their accounts and memberships, and
    sign in with a password (or another provider) from now on."""
    async with org.transaction() as ctx:
        guard.require(ctx, MANAGE)
        current = await _get(ctx, provider_id)
    await Providers(directory).delete(current.idp_alias)
    async with org.transaction() as ctx:
        guard.require(ctx, MANAGE)
        row = await ctx.session.get(SsoProvider, (ctx.org_id, provider_id), with_for_update=True)
        if row is None:
            return  # removed meanwhile: Keycloak agrees already
        await ctx.session.delete(row)
        await ctx.session.flush()
        await audit.record_in(
            ctx, action="sso_provider.deleted", resource_type="sso_provider", resource_id=row.id, before=_state(row)
        )


async def test_provider(
    org: OrgTransactions, directory: Directory, settings: Settings, provider_id: uuid.UUID
) -> schemas.ConnectionTest:
    """Fetch the provider's published configuration again and say whether it still works with what
    Keycloak holds. An admin's action (it makes the server fetch a URL), refused in an archived organization."""
    async with org.transaction() as ctx:
        guard.require(ctx, MANAGE)
        row = await _get(ctx, provider_id)
    kc = await Providers(directory).get(row.idp_alias)
    if kc is None:
        return schemas.ConnectionTest(
            ok=False, detail="Keycloak no longer has this provider; delete it here and connect it again."
        )
    try:
        if row.kind == ProviderKind.OIDC:
            endpoints = await connection.fetch_oidc(settings, row.discovery_url or "")
            issuer = (kc.get("config") or {}).get("issuer")
            if issuer and issuer != endpoints.issuer:
                return schemas.ConnectionTest(
                    ok=False,
                    field="discovery_url",
                    detail=f"The provider's issuer is now {endpoints.issuer}, not {issuer}: save the provider again.",
                )
            return schemas.ConnectionTest(
                ok=True, detail=f"The discovery document of {endpoints.issuer} answers and has every endpoint needed."
            )
        if row.metadata_url is None:
            return schemas.ConnectionTest(
                ok=True, detail="The metadata was pasted, so there is nothing to fetch; Keycloak holds it."
            )
        idp, _ = await connection.fetch_saml_metadata(settings, row.metadata_url)
    except ConnectionProblem as problem:
        return schemas.ConnectionTest(ok=False, detail=problem.message, field=problem.field)
    held = set(((kc.get("config") or {}).get("signingCertificate") or "").split(","))
    if not held & set(idp.certificates):
        return schemas.ConnectionTest(
            ok=False,
            field="metadata_url",
            detail="The provider signs with a certificate Keycloak does not hold yet: save the provider again.",
        )
    return schemas.ConnectionTest(
        ok=True, detail=f"The SAML metadata of {idp.entity_id} answers, with a sign-in URL and a signing certificate."
    )


# --- claimed email domains ----------------------------------------------------------------------------
#
# One organization claims a domain (a unique index across tenants, migration 0024); it routes sign-ins
# to the organization's provider only once the DNS TXT record proves the organization controls it.
# Verifying adds the domain to the organization's Keycloak copy, releasing removes it: Keycloak is
# called between the transactions, never inside one (as for providers above).


def _domain_read(row: SsoDomain) -> schemas.DomainRead:
    return schemas.DomainRead(
        domain=row.domain,
        verified=row.verified_at is not None,
        verified_at=row.verified_at,
        txt_record_name=domains.record_name(row.domain),
        txt_record_value=domains.record_value(row.verification_token),
        created_at=row.created_at,
    )


def _domain_state(row: SsoDomain) -> dict[str, Any]:
    return {"domain": row.domain, "verified": row.verified_at is not None}


def _domain_key(raw: str) -> str:
    try:
        return domains.normalize(raw)
    except ValueError:
        raise NotFound("This organization has not claimed that domain.") from None


async def _get_domain(ctx: OrgContext, domain: str, *, lock: bool = False) -> SsoDomain:
    row = await ctx.session.get(SsoDomain, (ctx.org_id, domain), with_for_update=lock)
    if row is None:
        raise NotFound("This organization has not claimed that domain.")
    return row


async def list_domains(ctx: OrgContext) -> list[schemas.DomainRead]:
    guard.require(ctx, READ)
    rows = await ctx.session.scalars(
        select(SsoDomain).where(col(SsoDomain.org_id) == ctx.org_id).order_by(col(SsoDomain.domain))
    )
    return [_domain_read(row) for row in rows]


async def get_domain(ctx: OrgContext, domain: str) -> schemas.DomainRead:
    guard.require(ctx, READ)
    return _domain_read(await _get_domain(ctx, _domain_key(domain)))


async def claim_domain(ctx: OrgContext, data: schemas.DomainClaim) -> schemas.DomainRead:
    """Claim a domain: the answer names the TXT record to publish before verifying it."""
    guard.require(ctx, MANAGE)
    if await ctx.session.get(SsoDomain, (ctx.org_id, data.domain)) is not None:
        raise Conflict(f"This organization has claimed {data.domain} already.", extra={"field": "domain"})
    row = SsoDomain(org_id=ctx.org_id, domain=data.domain, verification_token=secrets.token_hex(16))
    ctx.session.add(row)
    try:
        await ctx.session.flush()
    except IntegrityError:
        raise Conflict(
            f"{data.domain} is claimed by another organization. If it is yours, ask that organization to "
            "release it, or contact support.",
            extra={"field": "domain"},
        ) from None
    await audit.record_in(
        ctx, action="sso_domain.claimed", resource_type="sso_domain", resource_id=row.domain, after=_domain_state(row)
    )
    return _domain_read(row)


async def verify_domain(org: OrgTransactions, directory: Directory, settings: Settings, raw: str) -> schemas.DomainRead:
    """Look the TXT record up; when it holds the token, mark the domain verified and add it to the
    organization's Keycloak copy. A wrong or missing record is a 422 saying what was found."""
    async with org.transaction() as ctx:
        guard.require(ctx, MANAGE)
        domain = _domain_key(raw)  # after the organization is known to the caller: a ghost's answer stays its own
        current = await _get_domain(ctx, domain)
        if current.verified_at is not None:
            return _domain_read(current)
        verified, aliases = await _verified_domains(ctx), await _aliases(ctx)
    try:
        await domains.check(settings, domain, current.verification_token)
    except domains.CheckFailed as failed:
        raise UnprocessableContent(failed.message, extra={"field": "domain"}) from None
    await directory.set_domain(org.org_id, domain, present=True)
    providers = Providers(directory)
    try:
        # Accounts at the domain are linked on their first sign-in through the organization's providers.
        await providers.set_domains(aliases, verified | {domain})
        async with org.transaction() as ctx:
            guard.require(ctx, MANAGE)
            row = await _get_domain(ctx, domain, lock=True)
            if row.verification_token != current.verification_token:
                raise Conflict("The domain was released and claimed again meanwhile; verify it again.")
            if row.verified_at is None:
                row.verified_at = utcnow()
                await ctx.session.flush()
                await audit.record_in(
                    ctx,
                    action="sso_domain.verified",
                    resource_type="sso_domain",
                    resource_id=row.domain,
                    before={"domain": row.domain, "verified": False},
                    after=_domain_state(row),
                )
                await login.forget(ctx.session, ctx.org_id)  # people at the domain who signed in already
            return _domain_read(row)
    except BaseException:
        await providers.set_domains(aliases, verified)
        await directory.set_domain(org.org_id, domain, present=False)
        raise


async def release_domain(org: OrgTransactions, directory: Directory, raw: str) -> None:
    """Give the domain up: sign-ins with it no longer reach the organization's provider, and any
    organization may claim it."""
    async with org.transaction() as ctx:
        guard.require(ctx, MANAGE)
        domain = _domain_key(raw)  # after the organization is known to the caller: a ghost's answer stays its own
        current = await _get_domain(ctx, domain)
        verified, aliases = await _verified_domains(ctx), await _aliases(ctx)
    if current.verified_at is not None:
        await Providers(directory).set_domains(aliases, verified - {domain})
        await directory.set_domain(org.org_id, domain, present=False)
    async with org.transaction() as ctx:
        guard.require(ctx, MANAGE)
        row = await ctx.session.get(SsoDomain, (ctx.org_id, domain), with_for_update=True)
        if row is None:
            return
        await ctx.session.delete(row)
        await ctx.session.flush()
        await audit.record_in(
            ctx, action="sso_domain.released", resource_type="sso_domain", resource_id=domain, before=_domain_state(row)
        )


async def discover(session: AsyncSession, email: str) -> schemas.Discovery:
    """Home-realm discovery, before anyone signs in: the provider for a verified domain's address,
    ``password`` for every other one (an unverified or unknown domain answers alike)."""
    _, at, raw = email.strip().rpartition("@")
    try:
        domain = domains.normalize(raw) if at else None
    except ValueError:
        domain = None
    if domain is None:
        raise UnprocessableContent("Give an email address, like someone@example.com.", extra={"field": "email"})
    alias = await session.scalar(text("SELECT app_sso_discover(:domain)"), {"domain": domain})
    if alias is None:
        return schemas.Discovery(method="password")
    return schemas.Discovery(method="sso", kc_idp_hint=str(alias))


async def prepare_sign_in(db: Database, directory: Directory, email: str, idp_hint: str) -> None:
    """The web app is about to send ``email`` to the provider ``idp_hint``. When that provider is the one
    discovery names for the address (a domain its organization verified), an invited or SCIM-made account
    with this email that was never set up drops its password and profile steps: its first sign-in through
    the provider links it (the provider's first-login flow, keycloak.py) and goes straight back to the
    app. Anything else is left alone; a Keycloak failure here never stops the sign-in. Keycloak is asked
    after the discovery's transaction, never inside it."""
    try:
        async with db.transaction() as session:
            found = await discover(session, email)
    except UnprocessableContent:
        return
    if found.kc_idp_hint != idp_hint:
        return
    try:
        if await Providers(directory).drop_setup(email.strip()):
            log.info("sso_sign_in_setup_dropped", identity_provider=idp_hint)
    except DependencyUnavailable:
        log.warning("sso_sign_in_setup_not_dropped", identity_provider=idp_hint)


# --- claim-to-role mappings and the organization's SSO settings ---------------------------------------
#
# Both are applied on the request path (backend/sso/login.py) when a person's SSO claims change; every
# change here forgets the stored digests of the organization's people, so their next request applies
# the new rules (one slow request each, then the cheap comparison again).

MAPPING_READ, MAPPING_MANAGE = "sso_role_mapping:read", "sso_role_mapping:manage"
SETTINGS_READ, SETTINGS_UPDATE = "sso_settings:read", "sso_settings:update"


def _mapping_read(row: SsoRoleMapping) -> schemas.RoleMappingRead:
    return schemas.RoleMappingRead(
        id=row.id, claim=row.claim, value=row.value, role=OrgRole(row.role), created_at=row.created_at
    )


def _mapping_state(row: SsoRoleMapping) -> dict[str, Any]:
    return {"claim": row.claim, "value": row.value, "role": row.role}


def _require_grantable(ctx: OrgContext, role: OrgRole, field: str) -> None:
    if not login.within_cap(role):
        raise UnprocessableContent(
            f"Single sign-on grants at most the role '{login.ROLE_CAP.value}', not '{role.value}'.",
            extra={"field": field},
        )
    memberships.require_can_grant(ctx, role)


async def list_role_mappings(ctx: OrgContext, page: PageParams) -> Page[schemas.RoleMappingRead]:
    guard.require(ctx, MAPPING_READ)
    query = select(SsoRoleMapping).where(col(SsoRoleMapping.org_id) == ctx.org_id)
    return await paginate(
        ctx.session,
        query,
        page,
        _mapping_read,
        order_by=[col(SsoRoleMapping.claim), col(SsoRoleMapping.value), col(SsoRoleMapping.id)],
        scalars=True,
    )


async def create_role_mapping(ctx: OrgContext, data: schemas.RoleMappingCreate) -> schemas.RoleMappingRead:
    guard.require(ctx, MAPPING_MANAGE)
    _require_grantable(ctx, data.role, "role")
    existing = await ctx.session.scalar(
        select(SsoRoleMapping).where(
            col(SsoRoleMapping.org_id) == ctx.org_id,
            col(SsoRoleMapping.claim) == data.claim,
            col(SsoRoleMapping.value) == data.value,
        )
    )
    if existing is not None:
        raise Conflict(
            f"Claim '{data.claim}' value '{data.value}' is mapped already (to '{existing.role}'); "
            "delete that mapping first.",
            extra={"field": "value"},
        )
    row = SsoRoleMapping(
        org_id=ctx.org_id, claim=data.claim, value=data.value, role=data.role.value, created_by=ctx.user_id
    )
    ctx.session.add(row)
    try:
        await ctx.session.flush()
    except IntegrityError:  # created concurrently
        raise Conflict(
            f"Claim '{data.claim}' value '{data.value}' is mapped already.", extra={"field": "value"}
        ) from None
    await audit.record_in(
        ctx,
        action="sso_role_mapping.created",
        resource_type="sso_role_mapping",
        resource_id=row.id,
        after=_mapping_state(row),
    )
    await login.forget(ctx.session, ctx.org_id)
    return _mapping_read(row)


async def delete_role_mapping(ctx: OrgContext, mapping_id: uuid.UUID) -> None:
    guard.require(ctx, MAPPING_MANAGE)
    row = await ctx.session.get(SsoRoleMapping, (ctx.org_id, mapping_id), with_for_update=True)
    if row is None:
        raise NotFound("No such role mapping in this organization.")
    await ctx.session.delete(row)
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="sso_role_mapping.deleted",
        resource_type="sso_role_mapping",
        resource_id=row.id,
        before=_mapping_state(row),
    )
    await login.forget(ctx.session, ctx.org_id)


def _settings_read(row: SsoSettings | None) -> schemas.SsoSettingsRead:
    return schemas.SsoSettingsRead(
        default_role=OrgRole(row.default_role) if row else OrgRole.MEMBER,
        enforce_sso=row.enforce_sso if row else False,
        role_cap=login.ROLE_CAP,
    )


async def get_settings(ctx: OrgContext) -> schemas.SsoSettingsRead:
    guard.require(ctx, SETTINGS_READ)
    return _settings_read(await ctx.session.get(SsoSettings, ctx.org_id))


async def update_settings(ctx: OrgContext, data: schemas.SsoSettingsUpdate) -> schemas.SsoSettingsRead:
    guard.require(ctx, SETTINGS_UPDATE)
    if data.default_role is not None:
        _require_grantable(ctx, data.default_role, "default_role")
    row = await ctx.session.get(SsoSettings, ctx.org_id, with_for_update=True)
    before = _settings_read(row).model_dump(mode="json", exclude={"role_cap"})
    if row is None:
        row = SsoSettings(org_id=ctx.org_id)
        ctx.session.add(row)
    if data.enforce_sso and not row.enforce_sso:
        ready = await ctx.session.scalar(
            select(func.count())
            .select_from(SsoProvider)
            .where(col(SsoProvider.org_id) == ctx.org_id, col(SsoProvider.enabled))
        )
        verified = await ctx.session.scalar(
            select(func.count())
            .select_from(SsoDomain)
            .where(col(SsoDomain.org_id) == ctx.org_id, col(SsoDomain.verified_at).is_not(None))
        )
        if not ready or not verified:
            raise UnprocessableContent(
                "Single sign-on can be enforced once the organization has an enabled identity provider and a "
                "verified email domain.",
                extra={"field": "enforce_sso"},
            )
    if data.default_role is not None:
        row.default_role = data.default_role.value
    if data.enforce_sso is not None:
        row.enforce_sso = data.enforce_sso
    row.updated_at = utcnow()
    await ctx.session.flush()
    answer = _settings_read(row)
    after = answer.model_dump(mode="json", exclude={"role_cap"})
    if after != before:
        await audit.record_in(
            ctx,
            action="sso_settings.updated",
            resource_type="sso_settings",
            resource_id=ctx.org_id,
            before=before,
            after=after,
        )
    return answer


async def required_sign_in(session: AsyncSession, org_id: uuid.UUID, email: str) -> str | None:
    """When the organization enforces SSO and ``email`` is at one of its verified domains: the alias of
    its (oldest enabled) provider, to pass as ``kc_idp_hint``. None otherwise. Runs with the
    organization's tenant bound (invitations ask it; they never offer a password then)."""
    domain = login.email_domain(email)
    if domain is None:
        return None
    settings = await session.get(SsoSettings, org_id)
    if settings is None or not settings.enforce_sso:
        return None
    verified = await session.get(SsoDomain, (org_id, domain))
    if verified is None or verified.verified_at is None:
        return None
    alias = await session.scalar(
        select(col(SsoProvider.idp_alias))
        .where(col(SsoProvider.org_id) == org_id, col(SsoProvider.enabled))
        .order_by(col(SsoProvider.created_at), col(SsoProvider.id))
        .limit(1)
    )
    return str(alias) if alias else None
