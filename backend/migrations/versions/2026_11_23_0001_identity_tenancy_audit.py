"""Identity, organizations, memberships, audit trail, diagnostics; roles and row-level security.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from backend.core.rls import (
    CURRENT_ORG,
    CURRENT_USER,
    DROP_HELPER_FUNCTIONS,
    HELPER_FUNCTIONS,
    enable_rls,
    tenant_rls,
)

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ["diagnostic_pings", "audit_events", "memberships", "organizations", "users"]


def _ts(name: str, *, nullable: bool = False) -> sa.Column[sa.DateTime]:
    server_default = None if nullable else sa.text("now()")
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, server_default=server_default)


def upgrade(runtime_role: str) -> None:
    owner = op.get_bind().execute(sa.text("SELECT current_user")).scalar_one()
    for statement in HELPER_FUNCTIONS:
        op.execute(statement)

    op.create_table(
        "users",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("username", sa.String(255)),
        sa.Column("email", sa.String(320)),
        sa.Column("display_name", sa.Text),
        sa.Column("is_service_account", sa.Boolean, nullable=False, server_default=sa.false()),
        _ts("disabled_at", nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_table(
        "organizations",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("slug", sa.String(63), nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        _ts("archived_at", nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.CheckConstraint("slug ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'", name="slug_format"),
    )
    op.create_table(
        "memberships",
        sa.Column("org_id", UUID(as_uuid=True), sa.ForeignKey("organizations.id", ondelete="CASCADE")),
        sa.Column("user_id", UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="CASCADE")),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
        sa.Column("invited_by", UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="SET NULL")),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("org_id", "user_id"),
        sa.CheckConstraint("role IN ('owner', 'admin', 'manager', 'member', 'auditor')", name="role"),
        sa.CheckConstraint("status IN ('active', 'invited')", name="status"),
    )
    # "My organizations" is looked up by user across tenants.
    op.create_index("ix_memberships_user_id", "memberships", ["user_id"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column(
            "org_id",
            UUID(as_uuid=True),
            sa.ForeignKey("organizations.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", UUID(as_uuid=True)),
        sa.Column("actor_client_id", sa.String(255)),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("resource_type", sa.String(100), nullable=False),
        sa.Column("resource_id", sa.String(255), nullable=False),
        sa.Column("request_id", sa.String(128)),
        sa.Column("changes", JSONB),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("org_id", "seq"),
    )
    op.create_table(
        "diagnostic_pings",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "org_id",
            UUID(as_uuid=True),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("requested_by", UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        _ts("requested_at"),
        _ts("processed_at", nullable=True),
        sa.Column("worker_pid", sa.Integer),
    )
    op.create_index("ix_diagnostic_pings_org_id", "diagnostic_pings", ["org_id", "requested_at"])

    # Row-level security. A user sees their own identity row and the people of the current
    # organization; memberships are also visible to their own user so "my organizations" works
    # before any organization is chosen; an organization is visible inside itself or to its members.
    member_of_current_org = (
        f"EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = users.id AND m.org_id = {CURRENT_ORG})"
    )
    for statement in [
        *enable_rls(
            "users",
            using=f"id = {CURRENT_USER} OR {member_of_current_org}",
            check="true",  # Keycloak owns identities; rows are created at first sign-in or at invite.
            maintenance_role=owner,
        ),
        *enable_rls(
            "organizations",
            using=(
                f"id = {CURRENT_ORG} OR EXISTS (SELECT 1 FROM memberships m "
                f"WHERE m.org_id = organizations.id AND m.user_id = {CURRENT_USER})"
            ),
            check=f"id = {CURRENT_ORG}",
            maintenance_role=owner,
        ),
        *enable_rls(
            "memberships",
            using=f"org_id = {CURRENT_ORG} OR user_id = {CURRENT_USER}",
            check=f"org_id = {CURRENT_ORG}",
            maintenance_role=owner,
        ),
        *tenant_rls("audit_events", maintenance_role=owner),
        *tenant_rls("diagnostic_pings", maintenance_role=owner),
    ]:
        op.execute(statement)

    # The runtime role reads and writes rows, never the schema; the audit trail is insert-only.
    op.execute(f"GRANT USAGE ON SCHEMA public TO {runtime_role}")
    op.execute(f"GRANT EXECUTE ON FUNCTION app_current_org(), app_current_user() TO {runtime_role}")
    for table in ["users", "organizations", "memberships", "diagnostic_pings"]:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {runtime_role}")
    op.execute(f"GRANT SELECT, INSERT ON audit_events TO {runtime_role}")


def downgrade(runtime_role: str) -> None:
    # These policies look into memberships, so they go before the tables do.
    op.execute("DROP POLICY tenant_isolation ON users")
    op.execute("DROP POLICY tenant_isolation ON organizations")
    for table in TABLES:
        op.execute(f"REVOKE ALL ON {table} FROM {runtime_role}")
        op.drop_table(table)
    for statement in DROP_HELPER_FUNCTIONS:
        op.execute(statement)
