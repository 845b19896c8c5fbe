"""Enterprise SSO, second part: just-in-time membership, claim-to-role mappings and enforced SSO.

- ``users.sso_digest``: a digest of the SSO claims (identity provider, email, groups) last applied for
  this person. A request whose token carries the same digest does nothing more than compare two strings;
  a different one (a first SSO sign-in, changed groups, mappings changed since) applies them again.
- ``sso_settings.enforce_sso``: people whose email is in one of the organization's verified domains act
  in it only with a token that came through one of its identity providers.
- ``sso_role_mappings``: "claim ``groups`` contains ``eng-leads`` → role ``admin``" (tenant table, RLS).
- ``app_sso_login_org(alias, domain)``: the organization whose enabled provider has this alias, when it
  holds ``domain`` verified and is not archived (SECURITY DEFINER: asked before the tenant is known).
- ``app_enter`` also returns ``user_sso_digest`` and, for an organization that enforces SSO, its verified
  domains and provider aliases (``sso_enforced`` is false otherwise, and the arrays NULL).
- ``app_sso_forget(org)``: forget the stored digests of the organization's members and of people at its
  verified domains (their next request applies their claims again).

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-07
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from backend.core.rls import purge_policy, tenant_rls
from backend.tenancy.roles import OrgRole, sql_check

revision: str = "0037"
down_revision: str | None = "0036"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOGIN_ORG = """
CREATE FUNCTION app_sso_login_org(p_alias text, p_domain text) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT p.org_id
      FROM sso_providers p
      JOIN sso_domains d ON d.org_id = p.org_id AND d.domain = p_domain AND d.verified_at IS NOT NULL
      JOIN organizations o ON o.id = p.org_id AND o.archived_at IS NULL
     WHERE p.idp_alias = p_alias AND p.enabled
$$
"""

# Forgets the stored SSO digests of the organization's members and of people at its verified domains, so
# their next request applies their claims again (after mappings, domains or providers changed). As the
# owner role: the runtime role may not update users outside its tenant (0016's policy lets the owner).
FORGET = """
CREATE FUNCTION app_sso_forget(p_org uuid) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    UPDATE users u SET sso_digest = NULL
     WHERE u.sso_digest IS NOT NULL
       AND (EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = p_org AND m.user_id = u.id)
            OR split_part(lower(u.email), '@', 2) IN (
                SELECT d.domain FROM sso_domains d WHERE d.org_id = p_org AND d.verified_at IS NOT NULL))
$$
"""

# As in 0034 (0013 plus org_require_mfa), plus user_sso_digest and the organization's enforced-SSO columns.
APP_ENTER = """
CREATE FUNCTION app_enter(p_user uuid, p_org uuid, p_project uuid, p_with_burn boolean DEFAULT false)
RETURNS TABLE (
    user_known boolean,
    username varchar,
    email varchar,
    display_name text,
    is_service_account boolean,
    disabled_at timestamptz,
    user_sso_digest varchar,
    org_slug varchar,
    org_name text,
    org_archived_at timestamptz,
    org_created_at timestamptz,
    org_require_mfa boolean,
    sso_enforced boolean,
    sso_domains text[],
    sso_idps text[],
    member_role varchar,
    member_status varchar,
    project_name varchar,
    project_description text,
    project_archived_at timestamptz,
    project_created_at timestamptz,
    project_role varchar,
    project_row text
)
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_column
BEGIN
    PERFORM set_config('app.org_id', coalesce(p_org::text, ''), true),
            set_config('app.user_id', p_user::text, true);
    RETURN QUERY
    SELECT u.id IS NOT NULL, u.username, u.email, u.display_name, u.is_service_account, u.disabled_at,
           u.sso_digest,
           o.slug, o.name, o.archived_at, o.created_at, o.require_mfa_for_admins,
           coalesce(s.enforce_sso, false),
           CASE WHEN s.enforce_sso THEN ARRAY(
               SELECT d.domain::text FROM sso_domains d WHERE d.org_id = m.org_id AND d.verified_at IS NOT NULL
           ) END,
           CASE WHEN s.enforce_sso THEN ARRAY(
               SELECT i.idp_alias::text FROM sso_providers i WHERE i.org_id = m.org_id AND i.enabled
           ) END,
           m.role, m.status,
           p.name, p.description, p.archived_at, p.created_at,
           pm.role,
           CASE WHEN p.id IS NULL THEN NULL
                ELSE (to_jsonb(p) || jsonb_build_object(
                    'my_role', pm.role,
                    'budget_burn', CASE WHEN p_with_burn
                        THEN (SELECT to_jsonb(b) FROM project_burn(p, member_zone(p_org, p_user)) b) END
                ))::text END
    FROM (SELECT p_user AS id) AS me
    LEFT JOIN users u ON u.id = me.id
    LEFT JOIN memberships m ON m.org_id = p_org AND m.user_id = me.id
    LEFT JOIN organizations o ON o.id = m.org_id
    LEFT JOIN sso_settings s ON s.org_id = m.org_id
    LEFT JOIN projects p ON p.id = p_project AND p.org_id = m.org_id
    LEFT JOIN project_memberships pm ON pm.project_id = p.id AND pm.user_id = me.id;
END
$$
"""

SIGNATURE = "app_enter(uuid, uuid, uuid, boolean)"


def upgrade(runtime_role: str) -> None:
    owner = op.get_bind().execute(sa.text("SELECT current_user")).scalar_one()
    op.add_column("users", sa.Column("sso_digest", sa.String(64)))
    op.add_column("sso_settings", sa.Column("enforce_sso", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "sso_role_mappings",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("claim", sa.String(64), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("created_by", UUID(as_uuid=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_sso_role_mappings"),
        sa.UniqueConstraint("org_id", "claim", "value", name="uq_sso_role_mappings_org_id_claim_value"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], ondelete="CASCADE", name="fk_sso_role_mappings_org_id_organizations"
        ),
        sa.CheckConstraint(sql_check("role", OrgRole), name="ck_sso_role_mappings_role"),
        sa.CheckConstraint("claim IN ('groups')", name="ck_sso_role_mappings_claim"),
    )
    for statement in tenant_rls("sso_role_mappings", maintenance_role=owner):
        op.execute(statement)
    op.execute(purge_policy("sso_role_mappings", owner))  # offboarding (migration 0036)
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON sso_role_mappings TO {runtime_role}")
    op.execute(LOGIN_ORG)
    op.execute("REVOKE ALL ON FUNCTION app_sso_login_org(text, text) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION app_sso_login_org(text, text) TO {runtime_role}")
    op.execute(FORGET)
    op.execute("REVOKE ALL ON FUNCTION app_sso_forget(uuid) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION app_sso_forget(uuid) TO {runtime_role}")
    op.execute(f"DROP FUNCTION {SIGNATURE}")
    op.execute(APP_ENTER)
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO {runtime_role}")


def downgrade(runtime_role: str) -> None:
    spec = importlib.util.spec_from_file_location(
        "app_enter_0034", Path(__file__).with_name("2026_12_07_0034_require_mfa_for_admins.py")
    )
    assert spec is not None
    assert spec.loader is not None
    previous = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(previous)
    op.execute(f"DROP FUNCTION {SIGNATURE}")
    op.execute(previous.APP_ENTER)
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO {runtime_role}")
    op.execute("DROP FUNCTION IF EXISTS app_sso_forget(uuid)")
    op.execute("DROP FUNCTION app_sso_login_org(text, text)")
    op.execute(f"REVOKE ALL ON sso_role_mappings FROM {runtime_role}")
    op.drop_table("sso_role_mappings")
    op.drop_column("sso_settings", "enforce_sso")
    op.drop_column("users", "sso_digest")
