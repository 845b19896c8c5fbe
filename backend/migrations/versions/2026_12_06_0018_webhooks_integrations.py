"""Outgoing webhooks (endpoints, deliveries) and integrations (connector instances with sealed secrets).

``app_calendar_feed(digest)`` resolves a calendar feed's secret URL token before any tenant is bound
(SECURITY DEFINER, like ``app_personal_token``): it returns the feed's organization and person only while
their membership is active, and binds that organization and person for the rest of the transaction.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from backend.core.rls import tenant_rls

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RESOLVE_FEED = """
CREATE FUNCTION app_calendar_feed(p_digest bytea)
RETURNS TABLE (integration_id uuid, org_id uuid, user_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
DECLARE
    feed integrations%ROWTYPE;
BEGIN
    SELECT i.* INTO feed FROM integrations i
    JOIN memberships m ON m.org_id = i.org_id AND m.user_id = i.user_id AND m.status = 'active'
    WHERE i.lookup_hash = p_digest AND i.kind = 'ical';
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM set_config('app.org_id', feed.org_id::text, true);
    PERFORM set_config('app.user_id', feed.user_id::text, true);
    RETURN QUERY SELECT feed.id, feed.org_id, feed.user_id;
END
$$
"""


def upgrade(runtime_role: str) -> None:
    owner = op.get_bind().execute(sa.text("SELECT current_user")).scalar_one()
    op.create_table(
        "webhook_endpoints",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("description", sa.String(300), nullable=False, server_default=""),
        sa.Column("events", ARRAY(sa.String(64)), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("secret_sealed", sa.LargeBinary, nullable=False),
        sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
        sa.Column("disabled_reason", sa.String(300)),
        sa.Column("created_by", UUID(as_uuid=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id"),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.CheckConstraint("format IN ('standard', 'slack')", name="format"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("endpoint_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("response_code", sa.Integer),
        sa.Column("duration_ms", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("redelivery_of", UUID(as_uuid=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("org_id", "id"),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["org_id", "endpoint_id"], ["webhook_endpoints.org_id", "webhook_endpoints.id"], ondelete="CASCADE"
        ),
        sa.CheckConstraint("status IN ('pending', 'retrying', 'succeeded', 'failed')", name="status"),
    )
    op.create_index("ix_webhook_deliveries_endpoint", "webhook_deliveries", ["org_id", "endpoint_id", "created_at"])
    op.create_table(
        "integrations",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("user_id", UUID(as_uuid=True)),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("config", JSONB, nullable=False),
        sa.Column("secrets_sealed", sa.LargeBinary),
        sa.Column("lookup_hash", sa.LargeBinary),
        sa.Column("created_by", UUID(as_uuid=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id"),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["org_id", "user_id"], ["memberships.org_id", "memberships.user_id"], ondelete="CASCADE"
        ),
    )
    op.create_index("ix_integrations_org_kind_user", "integrations", ["org_id", "kind", "user_id"])
    op.create_index("uq_integrations_lookup_hash", "integrations", ["lookup_hash"], unique=True)
    for table in ("webhook_endpoints", "webhook_deliveries", "integrations"):
        for statement in tenant_rls(table, maintenance_role=owner):
            op.execute(statement)
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {runtime_role}")
    op.execute(RESOLVE_FEED)
    op.execute("REVOKE ALL ON FUNCTION app_calendar_feed(bytea) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION app_calendar_feed(bytea) TO {runtime_role}")


def downgrade(runtime_role: str) -> None:  # noqa: ARG001
    op.execute("DROP FUNCTION app_calendar_feed(bytea)")
    op.drop_table("integrations")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
