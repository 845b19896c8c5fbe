"""Saved reports and their share links.

- ``saved_reports``: a named time report query (the JSON of ``reports.schemas.TimeReportQuery``), owned by
  the person who saved it; ``shared`` makes it visible to the whole organization.
- ``report_share_links``: read-only public links to a saved report. Only the SHA-256 digest of the
  link's secret token is stored; a link expires (``expires_at``) and can be revoked (``revoked_at``).

``app_shared_report(digest)`` resolves a presented token before any tenant is bound (SECURITY DEFINER,
like ``app_calendar_feed``): it returns the link only while it is unrevoked, unexpired and its creator
is still an active member, and binds that organization and person for the rest of the transaction, so
everything after it (the report, the audit event) runs under row-level security as usual.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from backend.core.rls import tenant_rls

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RESOLVE_LINK = """
CREATE FUNCTION app_shared_report(p_digest bytea)
RETURNS TABLE (link_id uuid, org_id uuid, saved_report_id uuid, created_by uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
DECLARE
    link report_share_links%ROWTYPE;
BEGIN
    SELECT l.* INTO link FROM report_share_links l
    JOIN memberships m ON m.org_id = l.org_id AND m.user_id = l.created_by AND m.status = 'active'
    WHERE l.token_hash = p_digest AND l.revoked_at IS NULL AND l.expires_at > now();
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM set_config('app.org_id', link.org_id::text, true);
    PERFORM set_config('app.user_id', link.created_by::text, true);
    RETURN QUERY SELECT link.id, link.org_id, link.saved_report_id, link.created_by;
END
$$
"""


def upgrade(runtime_role: str) -> None:
    owner = op.get_bind().execute(sa.text("SELECT current_user")).scalar_one()
    op.create_table(
        "saved_reports",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("owner_id", UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("query", JSONB, nullable=False),
        sa.Column("shared", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_saved_reports"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], ondelete="CASCADE", name="fk_saved_reports_org_id_organizations"
        ),
    )
    op.create_index("ix_saved_reports_owner", "saved_reports", ["org_id", "owner_id"])
    op.create_table(
        "report_share_links",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("saved_report_id", UUID(as_uuid=True), nullable=False),
        sa.Column("token_hash", sa.LargeBinary, nullable=False),
        sa.Column("hint", sa.String(16), nullable=False),
        sa.Column("created_by", UUID(as_uuid=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("last_viewed_at", sa.DateTime(timezone=True)),
        sa.Column("views", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_report_share_links"),
        sa.UniqueConstraint("token_hash", name="uq_report_share_links_token_hash"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], ondelete="CASCADE", name="fk_report_share_links_org_id_organizations"
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "saved_report_id"],
            ["saved_reports.org_id", "saved_reports.id"],
            ondelete="CASCADE",
            name="fk_report_share_links_org_id_saved_report_id_saved_reports",
        ),
    )
    op.create_index("ix_report_share_links_report", "report_share_links", ["org_id", "saved_report_id"])
    for table in ("saved_reports", "report_share_links"):
        for statement in tenant_rls(table, maintenance_role=owner):
            op.execute(statement)
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {runtime_role}")
    op.execute(RESOLVE_LINK)
    op.execute("REVOKE ALL ON FUNCTION app_shared_report(bytea) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION app_shared_report(bytea) TO {runtime_role}")


def downgrade(runtime_role: str) -> None:  # noqa: ARG001
    op.execute("DROP FUNCTION app_shared_report(bytea)")
    op.drop_table("report_share_links")
    op.drop_table("saved_reports")
