"""An organization's identity providers, claimed email domains and SSO settings (migrations 0021, 0024, 0032)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Column, Index, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlmodel import Field, SQLModel

from backend.core.models import tenant_fk, timestamp_field
from backend.tenancy.roles import OrgRole, sql_check


class ProviderKind(enum.StrEnum):
    OIDC = "oidc"
    SAML = "saml"


class SsoProvider(SQLModel, table=True):
    """An identity provider connected to an organization. Keycloak holds the provider (``idp_alias``) and
    its secret; this row holds what admins see, never a secret."""

    __tablename__ = "sso_providers"
    __table_args__ = (
        tenant_fk("org_id"),
        UniqueConstraint("idp_alias"),
        CheckConstraint("kind IN ('oidc', 'saml')", name="kind"),
        CheckConstraint(
            "(kind = 'oidc' AND discovery_url IS NOT NULL AND client_id IS NOT NULL)"
            " OR (kind = 'saml' AND (metadata_url IS NOT NULL OR has_metadata_xml))",
            name="config",
        ),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(UUID(as_uuid=True), primary_key=True))
    idp_alias: str = Field(sa_column=Column(String(64), nullable=False))
    kind: str = Field(sa_column=Column(String(8), nullable=False))
    display_name: str = Field(sa_column=Column(String(200), nullable=False))
    discovery_url: str | None = Field(default=None, sa_column=Column(String(2000)))
    client_id: str | None = Field(default=None, sa_column=Column(String(255)))
    scopes: list[str] = Field(
        default_factory=list, sa_column=Column(ARRAY(String(100)), nullable=False, server_default=text("'{}'"))
    )
    metadata_url: str | None = Field(default=None, sa_column=Column(String(2000)))
    has_metadata_xml: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=text("false"))
    )
    enabled: bool = Field(default=True, sa_column=Column(Boolean, nullable=False, server_default=text("true")))
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class SsoDomain(SQLModel, table=True):
    """An email domain an organization claims; it routes sign-ins only once verified (DNS TXT)."""

    __tablename__ = "sso_domains"
    __table_args__ = (
        tenant_fk("org_id"),
        CheckConstraint("domain = lower(domain)", name="lowercase"),
        # One organization claims a domain, across every tenant (unique indexes see past RLS; migration 0024).
        Index("uq_sso_domains_domain", "domain", unique=True),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    domain: str = Field(sa_column=Column(String(253), primary_key=True))
    verification_token: str = Field(sa_column=Column(String(64), nullable=False))
    verified_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    created_at: datetime = timestamp_field()


class SsoSettings(SQLModel, table=True):
    """The organization's SSO choices (absent row: the defaults)."""

    __tablename__ = "sso_settings"
    __table_args__ = (tenant_fk("org_id"), CheckConstraint(sql_check("default_role", OrgRole), name="default_role"))

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    default_role: str = Field(
        default=OrgRole.MEMBER.value,
        sa_column=Column(String(32), nullable=False, server_default=OrgRole.MEMBER.value),
    )
    enforce_sso: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=text("false")))
    updated_at: datetime = timestamp_field()


class SsoRoleMapping(SQLModel, table=True):
    """ "Claim ``groups`` contains ``eng-leads`` → role ``admin``" (migration 0037)."""

    __tablename__ = "sso_role_mappings"
    __table_args__ = (
        tenant_fk("org_id"),
        UniqueConstraint("org_id", "claim", "value"),
        CheckConstraint(sql_check("role", OrgRole), name="role"),
        CheckConstraint("claim IN ('groups')", name="claim"),
    )

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(UUID(as_uuid=True), primary_key=True))
    claim: str = Field(sa_column=Column(String(64), nullable=False))
    value: str = Field(sa_column=Column(String(255), nullable=False))
    role: str = Field(sa_column=Column(String(32), nullable=False))
    created_by: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    created_at: datetime = timestamp_field()
