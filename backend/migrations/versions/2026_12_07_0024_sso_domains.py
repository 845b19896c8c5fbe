"""Claimed email domains are held by one organization at most, and home-realm discovery reads them.

- ``uq_sso_domains_domain``: one claim per domain across every tenant (a unique index checks every row,
  whatever RLS hides), replacing 0021's "unique once verified" index. A second organization's claim is
  refused with a 409; the claim is released by its holder (``DELETE …/sso/domains/{domain}``).
- ``app_sso_discover(domain)``: the ``idp_alias`` of the enabled provider of the organization holding
  ``domain`` *verified*, or NULL. Owned by the owner role (reads every tenant), callable by the runtime
  role before any tenant is bound; it answers nothing about unverified claims.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DISCOVER = """
CREATE FUNCTION app_sso_discover(p_domain text) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT p.idp_alias
      FROM sso_domains d
      JOIN sso_providers p ON p.org_id = d.org_id AND p.enabled
      JOIN organizations o ON o.id = d.org_id AND o.archived_at IS NULL
     WHERE d.domain = p_domain AND d.verified_at IS NOT NULL
     ORDER BY p.created_at, p.id
     LIMIT 1
$$
"""


def upgrade(runtime_role: str) -> None:
    op.drop_index("uq_sso_domains_verified_domain", table_name="sso_domains")
    op.create_index("uq_sso_domains_domain", "sso_domains", ["domain"], unique=True)
    op.execute(DISCOVER)
    op.execute("REVOKE ALL ON FUNCTION app_sso_discover(text) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION app_sso_discover(text) TO {runtime_role}")


def downgrade(runtime_role: str) -> None:  # noqa: ARG001
    op.execute("DROP FUNCTION app_sso_discover(text)")
    op.drop_index("uq_sso_domains_domain", table_name="sso_domains")
    op.create_index(
        "uq_sso_domains_verified_domain",
        "sso_domains",
        ["domain"],
        unique=True,
        postgresql_where=sa.text("verified_at IS NOT NULL"),
    )
