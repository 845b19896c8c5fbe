"""Tenant offboarding: full-data exports, scheduled deletion, and the record of deletions.

- ``offboarding_exports`` (tenant table): an owner's export of everything the organization holds (one JSON
  Lines file per tenant table, the attachments' bytes, a signed manifest), made by a worker.
- ``org_deletions`` (**not** tenant-scoped: it outlives the organization): who asked for the deletion,
  when it was scheduled and purged, the rows removed per table and the hash of the last export's
  manifest. Inside the organization (``app.org_id``) the runtime role sees and writes only its own record;
  the owner role (the purge, ``python -m backend orgs deletions``) sees and changes them all.
- The purge runs as the owner role, which row-level security (forced) otherwise lets only *read* across
  tenants: every table with ``org_id`` (found in the catalog, not listed by hand) gets an
  ``offboarding_purge`` policy that lets the owner role delete the rows of the organization named in
  ``app.purge_org_id``, and nothing else. The runtime role can set that setting too, but the policies are
  granted to the owner role only. A table added later gets the same policy from
  ``backend/core/rls.py:purge_policy`` (the purge refuses to run while any ``org_id`` table lacks it).
- ``audit_anchors`` stays append-only except for that one case: the owner role deleting the anchors of
  the organization being purged.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from backend.core.rls import CURRENT_ORG, PURGE_FUNCTION, purge_policy, tenant_rls

revision: str = "0036"
down_revision: str | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ANCHORS_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION audit_anchors_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_user = '{owner}' AND OLD.org_id = (SELECT app_purge_org()) THEN
        RETURN OLD;  -- the offboarding purge of this organization (docs/operations.md)
    END IF;
    RAISE EXCEPTION 'audit anchors are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""

ANCHORS_APPEND_ONLY_BEFORE = """
CREATE OR REPLACE FUNCTION audit_anchors_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit anchors are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def _org_id_tables() -> list[str]:
    rows = op.get_bind().execute(
        sa.text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname"
        )
    )
    return [str(row[0]) for row in rows]


def upgrade(runtime_role: str) -> None:
    owner = op.get_bind().execute(sa.text("SELECT current_user")).scalar_one()
    op.execute(PURGE_FUNCTION)
    op.execute(f"GRANT EXECUTE ON FUNCTION app_purge_org() TO {runtime_role}")

    op.create_table(
        "offboarding_exports",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by", UUID(as_uuid=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text),
        sa.Column("file_name", sa.String(255)),
        sa.Column("size_bytes", sa.BigInteger),
        sa.Column("sha256", sa.String(64)),
        sa.Column("manifest_sha256", sa.String(64)),
        sa.Column("manifest", JSONB),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("org_id", "id"),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["requested_by"], ["users.id"], ondelete="RESTRICT"),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
    )
    op.create_index("ix_offboarding_exports_org_id_created_at", "offboarding_exports", ["org_id", "created_at"])
    for statement in tenant_rls("offboarding_exports", maintenance_role=owner):
        op.execute(statement)
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON offboarding_exports TO {runtime_role}")

    op.create_table(
        "org_deletions",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        # No foreign key: the record outlives the organization it names.
        sa.Column("organization_id", UUID(as_uuid=True), nullable=False),
        sa.Column("slug", sa.String(63), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by", UUID(as_uuid=True), nullable=False),
        sa.Column("requested_by_email", sa.String(320)),
        sa.Column("was_archived", sa.Boolean, nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("purge_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True)),
        sa.Column("cancelled_by", UUID(as_uuid=True)),
        sa.Column("purge_started_at", sa.DateTime(timezone=True)),
        sa.Column("rows_purged_at", sa.DateTime(timezone=True)),
        sa.Column("purged_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("counts", JSONB),
        sa.Column("storage_objects", sa.Integer),
        sa.Column("keycloak", JSONB),
        sa.Column("export_id", UUID(as_uuid=True)),
        sa.Column("export_manifest_sha256", sa.String(64)),
        sa.CheckConstraint("status IN ('scheduled', 'cancelled', 'purging', 'purged')", name="status"),
    )
    # One open deletion per organization.
    op.create_index(
        "uq_org_deletions_open",
        "org_deletions",
        ["organization_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('scheduled', 'purging')"),
    )
    op.create_index("ix_org_deletions_due", "org_deletions", ["status", "purge_after"])
    for statement in [
        "ALTER TABLE org_deletions ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE org_deletions FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_own_record ON org_deletions TO {runtime_role}"
        f" USING (organization_id = {CURRENT_ORG}) WITH CHECK (organization_id = {CURRENT_ORG})",
        f"CREATE POLICY operator ON org_deletions TO {owner} USING (true) WITH CHECK (true)",
        f"GRANT SELECT, INSERT, UPDATE ON org_deletions TO {runtime_role}",
    ]:
        op.execute(statement)

    # The purge's delete policies, on every table with org_id (the new offboarding_exports included).
    for table in _org_id_tables():
        op.execute(purge_policy(table, owner))
    op.execute(
        f"CREATE POLICY offboarding_purge ON organizations FOR DELETE TO {owner} USING (id = (SELECT app_purge_org()))"
    )
    op.execute(ANCHORS_APPEND_ONLY.format(owner=owner))


def downgrade(runtime_role: str) -> None:
    op.execute(ANCHORS_APPEND_ONLY_BEFORE)
    op.execute("DROP POLICY IF EXISTS offboarding_purge ON organizations")
    op.drop_table("org_deletions")
    op.execute(f"REVOKE ALL ON offboarding_exports FROM {runtime_role}")
    op.drop_table("offboarding_exports")
    for table in _org_id_tables():
        op.execute(f"DROP POLICY IF EXISTS offboarding_purge ON {table}")
    op.execute("DROP FUNCTION IF EXISTS app_purge_org()")
