from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from backend.sso.domains import normalize
from backend.tenancy.roles import OrgRole

Url = Annotated[str, Field(min_length=8, max_length=2000)]
Scope = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[\x21\x23-\x5b\x5d-\x7e]+$")]
DisplayName = Annotated[str, Field(min_length=1, max_length=200)]
#: SAML metadata pasted as XML (metadata of one provider is a few kB; federations' files are not wanted).
MetadataXml = Annotated[str, Field(min_length=1, max_length=200_000)]

DEFAULT_SCOPES = ["openid", "email", "profile"]


class OidcProviderCreate(BaseModel):
    model_config = {"extra": "forbid"}

    kind: Literal["oidc"]
    display_name: DisplayName
    discovery_url: Url = Field(description="The issuer URL or its /.well-known/openid-configuration URL")
    client_id: Annotated[str, Field(min_length=1, max_length=255)]
    client_secret: SecretStr = Field(
        min_length=1, max_length=2000, description="Write-only: stored in Keycloak, never returned or logged"
    )
    scopes: list[Scope] = Field(default_factory=lambda: list(DEFAULT_SCOPES), max_length=20)

    @field_validator("scopes")
    @classmethod
    def _openid(cls, scopes: list[str]) -> list[str]:
        if "openid" not in scopes:
            raise ValueError("the scopes must include 'openid'")
        return list(dict.fromkeys(scopes))


class SamlProviderCreate(BaseModel):
    model_config = {"extra": "forbid"}

    kind: Literal["saml"]
    display_name: DisplayName
    metadata_url: Url | None = Field(default=None, description="Where the provider publishes its SAML metadata")
    metadata_xml: MetadataXml | None = Field(default=None, description="Or the metadata itself, pasted")

    @model_validator(mode="after")
    def _one_source(self) -> SamlProviderCreate:
        if (self.metadata_url is None) == (self.metadata_xml is None):
            raise ValueError("give either metadata_url or metadata_xml")
        return self


ProviderCreate = Annotated[OidcProviderCreate | SamlProviderCreate, Field(discriminator="kind")]


class ProviderUpdate(BaseModel):
    """Change what is given; the provider's configuration is fetched and checked again when its URL,
    metadata or client changes."""

    model_config = {"extra": "forbid"}

    display_name: DisplayName | None = None
    enabled: bool | None = None
    discovery_url: Url | None = None
    client_id: Annotated[str | None, Field(min_length=1, max_length=255)] = None
    client_secret: SecretStr | None = Field(default=None, min_length=1, max_length=2000)
    scopes: list[Scope] | None = Field(default=None, max_length=20)
    metadata_url: Url | None = None
    metadata_xml: MetadataXml | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ProviderUpdate:
        if self.metadata_url is not None and self.metadata_xml is not None:
            raise ValueError("give either metadata_url or metadata_xml")
        if self.scopes is not None and "openid" not in self.scopes:
            raise ValueError("the scopes must include 'openid'")
        return self


class ProviderRead(BaseModel):
    id: uuid.UUID
    kind: Literal["oidc", "saml"]
    display_name: str
    enabled: bool
    idp_alias: str = Field(description="The provider's alias in Keycloak (kc_idp_hint)")
    discovery_url: str | None
    client_id: str | None
    has_client_secret: bool = Field(description="A secret is set (it is never shown)")
    scopes: list[str]
    metadata_url: str | None
    has_metadata_xml: bool
    redirect_uri: str = Field(description="OIDC: the redirect URI to register at the provider; SAML: the ACS URL")
    saml_entity_id: str | None = Field(description="SAML: the service provider entity ID to register")
    saml_metadata_url: str | None = Field(description="SAML: the service provider metadata to import at the IdP")
    created_at: datetime
    updated_at: datetime


class ConnectionTest(BaseModel):
    ok: bool
    detail: str = Field(description="What was checked, or what is wrong, in plain words")
    field: str | None = Field(default=None, description="The setting at fault, when something is")


class DomainClaim(BaseModel):
    model_config = {"extra": "forbid"}

    domain: Annotated[str, Field(min_length=3, max_length=253, examples=["contoso.com"])]

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        return normalize(value)


class DomainRead(BaseModel):
    domain: str
    verified: bool
    verified_at: datetime | None
    txt_record_name: str = Field(description="Publish a TXT record at this name …")
    txt_record_value: str = Field(description="… holding exactly this value, then verify the domain")
    created_at: datetime


class Discovery(BaseModel):
    method: Literal["sso", "password"] = Field(description="Sign in through the organization's provider, or not")
    kc_idp_hint: str | None = Field(
        default=None, description="With `sso`: pass it as `kc_idp_hint` on Keycloak's authorization request"
    )


class RoleMappingCreate(BaseModel):
    """ "Claim ``groups`` contains ``eng-leads`` → role ``admin``"."""

    model_config = {"extra": "forbid"}

    claim: Literal["groups"] = Field(default="groups", description="The token claim to look at")
    value: Annotated[str, Field(min_length=1, max_length=255, examples=["eng-leads"])] = Field(
        description="The claim must contain exactly this value"
    )
    role: OrgRole = Field(description="The organization role it gives (at most the SSO role cap, admin)")


class RoleMappingRead(BaseModel):
    id: uuid.UUID
    claim: str
    value: str
    role: OrgRole
    created_at: datetime


class SsoSettingsRead(BaseModel):
    default_role: OrgRole = Field(description="The role of a person's just-in-time membership when no mapping matches")
    enforce_sso: bool = Field(
        description="People of the verified domains act here only when signed in through the organization's provider"
    )
    role_cap: OrgRole = Field(description="The highest role single sign-on grants (fixed)")


class SsoSettingsUpdate(BaseModel):
    model_config = {"extra": "forbid"}

    default_role: OrgRole | None = None
    enforce_sso: bool | None = None
