"""Reports and exports: member capacities, exports (progress, manifest, expiry) and per-organization
Ed25519 signing keys (private half encrypted at rest).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from backend.core.rls import tenant_rls

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Signing keys are written once and never changed by the runtime role.
TABLES = {
    "member_capacities": "SELECT, INSERT, UPDATE, DELETE",
    "exports": "SELECT, INSERT, UPDATE, DELETE",
    "export_signing_keys": "SELECT, INSERT",
}


def _ts(name: str, *, nullable: bool = False) -> sa.Column[sa.DateTime]:
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=nullable, server_default=None if nullable else sa.text("now()")
    )


def upgrade(runtime_role: str) -> None:
    owner = op.get_bind().execute(sa.text("SELECT current_user")).scalar_one()
    op.create_table(
        "member_capacities",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("weekly_hours", sa.Numeric(5, 2), nullable=False),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("org_id", "user_id", name="pk_member_capacities"),
        sa.ForeignKeyConstraint(
            ["org_id", "user_id"],
            ["memberships.org_id", "memberships.user_id"],
            ondelete="CASCADE",
            name="fk_member_capacities_org_id_user_id_memberships",
        ),
        sa.CheckConstraint("weekly_hours >= 0 AND weekly_hours <= 168", name="ck_member_capacities_weekly_hours"),
    )
    op.create_table(
        "exports",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("filters", JSONB, nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_rows", sa.Integer, nullable=False),
        sa.Column("done_rows", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("file_name", sa.String(255)),
        sa.Column("size_bytes", sa.BigInteger),
        sa.Column("sha256", sa.String(64)),
        sa.Column("manifest", JSONB),
        sa.Column("requested_by", UUID(as_uuid=True), nullable=False),
        _ts("created_at"),
        _ts("started_at", nullable=True),
        _ts("heartbeat_at", nullable=True),
        _ts("finished_at", nullable=True),
        _ts("expires_at", nullable=True),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_exports"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], ondelete="CASCADE", name="fk_exports_org_id_organizations"
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], ondelete="RESTRICT", name="fk_exports_requested_by_users"
        ),
        sa.CheckConstraint("kind IN ('detailed', 'timesheet', 'summary')", name="ck_exports_kind"),
        sa.CheckConstraint("format IN ('csv', 'pdf')", name="ck_exports_format"),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed', 'expired')", name="ck_exports_status"),
    )
    op.create_index("ix_exports_org_id_created_at", "exports", ["org_id", "created_at"])
    op.create_table(
        "export_signing_keys",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("public_key", sa.LargeBinary, nullable=False),
        sa.Column("private_key_encrypted", sa.LargeBinary, nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("org_id", "key_id", name="pk_export_signing_keys"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], ondelete="CASCADE", name="fk_export_signing_keys_org_id_organizations"
        ),
    )
    for table, privileges in TABLES.items():
        for statement in tenant_rls(table, maintenance_role=owner):
            op.execute(statement)
        op.execute(f"GRANT {privileges} ON {table} TO {runtime_role}")


def downgrade(runtime_role: str) -> None:
    for table in reversed(list(TABLES)):
        op.execute(f"REVOKE ALL ON {table} FROM {runtime_role}")
        op.drop_table(table)
