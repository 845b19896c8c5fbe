"""Enterprise SSO per organization: identity providers, claimed domains, the organization's SSO settings.

- ``sso_providers``: an organization's identity provider (OIDC or SAML). Keycloak holds the provider
  itself (alias ``idp_alias``) and its client secret; the platform keeps what admins see, never a secret.
- ``sso_domains``: email domains an organization claims, with the DNS TXT token that verifies them. Many
  organizations may *claim* a domain (so a squatter cannot block its owner), only one may hold it
  *verified* (a partial unique index: unique checks ignore RLS, so it holds across tenants).
- ``sso_settings``: the organization's default role for people signing in through its provider.
- ``app_org_exists(id)``: whether an organization with this id exists, for telling a stale Keycloak
  mirror from a live one before any tenant is bound (ids are unguessable, so it reveals nothing).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from backend.core.rls import tenant_rls
from backend.tenancy.roles import OrgRole, sql_check

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORG_EXISTS = """
CREATE FUNCTION app_org_exists(p_org_id uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$ SELECT EXISTS (SELECT 1 FROM organizations WHERE id = p_org_id) $$
"""


def _ts(name: str, *, nullable: bool = False) -> sa.Column[object]:
    default = None if nullable else sa.text("now()")
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, server_default=default)


def upgrade(runtime_role: str) -> None:
    owner = op.get_bind().execute(sa.text("SELECT current_user")).scalar_one()
    op.create_table(
        "sso_providers",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("idp_alias", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("discovery_url", sa.String(2000)),
        sa.Column("client_id", sa.String(255)),
        sa.Column("scopes", ARRAY(sa.String(100)), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("metadata_url", sa.String(2000)),
        sa.Column("has_metadata_xml", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.text("true")),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_sso_providers"),
        sa.UniqueConstraint("idp_alias", name="uq_sso_providers_idp_alias"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], ondelete="CASCADE", name="fk_sso_providers_org_id_organizations"
        ),
        sa.CheckConstraint("kind IN ('oidc', 'saml')", name="ck_sso_providers_kind"),
        sa.CheckConstraint(
            "(kind = 'oidc' AND discovery_url IS NOT NULL AND client_id IS NOT NULL)"
            " OR (kind = 'saml' AND (metadata_url IS NOT NULL OR has_metadata_xml))",
            name="ck_sso_providers_config",
        ),
    )
    op.create_table(
        "sso_domains",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("verification_token", sa.String(64), nullable=False),
        _ts("verified_at", nullable=True),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("org_id", "domain", name="pk_sso_domains"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], ondelete="CASCADE", name="fk_sso_domains_org_id_organizations"
        ),
        sa.CheckConstraint("domain = lower(domain)", name="ck_sso_domains_lowercase"),
    )
    op.create_index(
        "uq_sso_domains_verified_domain",
        "sso_domains",
        ["domain"],
        unique=True,
        postgresql_where=sa.text("verified_at IS NOT NULL"),
    )
    op.create_table(
        "sso_settings",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("default_role", sa.String(32), nullable=False, server_default=OrgRole.MEMBER.value),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("org_id", name="pk_sso_settings"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], ondelete="CASCADE", name="fk_sso_settings_org_id_organizations"
        ),
        sa.CheckConstraint(sql_check("default_role", OrgRole), name="ck_sso_settings_default_role"),
    )
    for table in ("sso_providers", "sso_domains", "sso_settings"):
        for statement in tenant_rls(table, maintenance_role=owner):
            op.execute(statement)
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {runtime_role}")
    op.execute(ORG_EXISTS)
    op.execute("REVOKE ALL ON FUNCTION app_org_exists(uuid) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION app_org_exists(uuid) TO {runtime_role}")


def downgrade(runtime_role: str) -> None:
    op.execute("DROP FUNCTION app_org_exists(uuid)")
    for table in ("sso_settings", "sso_domains", "sso_providers"):
        op.execute(f"REVOKE ALL ON {table} FROM {runtime_role}")
        op.drop_table(table)
