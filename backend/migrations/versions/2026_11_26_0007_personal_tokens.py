"""Personal API tokens: hashed, per person and organization, role-capped, expiring, revocable.

``app_personal_token(digest)`` resolves a presented token before any tenant is bound (SECURITY DEFINER:
it runs as the owner, whose maintenance policy may read every row), returns the single matching token
only while it is unrevoked, unexpired, its membership active and its user enabled, and stamps
``last_used_at`` inside the token's own organization.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from backend.core.rls import tenant_rls
from backend.tenancy.roles import OrgRole, sql_check

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RESOLVE = """
CREATE FUNCTION app_personal_token(p_digest bytea)
RETURNS TABLE (token_id uuid, org_id uuid, user_id uuid, role text, username text, email text, display_name text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
DECLARE
    tok personal_tokens%ROWTYPE;
BEGIN
    SELECT t.* INTO tok FROM personal_tokens t
    JOIN memberships m ON m.org_id = t.org_id AND m.user_id = t.user_id AND m.status = 'active'
    JOIN users u ON u.id = t.user_id AND u.disabled_at IS NULL
    WHERE t.token_hash = p_digest AND t.revoked_at IS NULL AND t.expires_at > now();
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM set_config('app.org_id', tok.org_id::text, true);
    UPDATE personal_tokens SET last_used_at = now()
    WHERE id = tok.id AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');
    RETURN QUERY
    SELECT tok.id, tok.org_id, tok.user_id, tok.role::text, u.username::text, u.email::text,
           u.display_name::text
    FROM users u WHERE u.id = tok.user_id;
END
$$
"""


def upgrade(runtime_role: str) -> None:
    owner = op.get_bind().execute(sa.text("SELECT current_user")).scalar_one()
    op.create_table(
        "personal_tokens",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("token_hash", sa.LargeBinary, nullable=False),
        sa.Column("hint", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_by", UUID(as_uuid=True)),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["org_id", "user_id"],
            ["memberships.org_id", "memberships.user_id"],
            ondelete="CASCADE",
            name="fk_personal_tokens_membership",
        ),
        sa.CheckConstraint(sql_check("role", OrgRole), name="role"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_personal_tokens_org_id_user_id", "personal_tokens", ["org_id", "user_id"])
    for statement in tenant_rls("personal_tokens", maintenance_role=owner):
        op.execute(statement)
    # The resolver runs as the owner; tenant_isolation (for every role) lets it stamp last_used_at once it
    # has bound the token's organization.
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON personal_tokens TO {runtime_role}")
    op.execute(RESOLVE)
    op.execute("REVOKE ALL ON FUNCTION app_personal_token(bytea) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION app_personal_token(bytea) TO {runtime_role}")


def downgrade(runtime_role: str) -> None:  # noqa: ARG001
    op.execute("DROP FUNCTION app_personal_token(bytea)")
    op.drop_table("personal_tokens")
