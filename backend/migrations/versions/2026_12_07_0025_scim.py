"""SCIM 2.0 provisioning: an organization's SCIM bearer secret.

- ``memberships.status`` may be ``suspended`` (SCIM ``active: false``).
- ``scim_tokens``: one row per organization that switched SCIM on, holding the SHA-256 digest of the
  secret its identity provider presents (the secret itself is shown once, never stored).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from backend.core.rls import tenant_rls
from backend.tenancy.roles import check_constraints

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_STATUS = "ck_memberships_status"


def upgrade(runtime_role: str) -> None:
    for table, name, expression in check_constraints():
        if name == _STATUS:
            op.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")
            op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({expression})")
    owner = op.get_bind().execute(sa.text("SELECT current_user")).scalar_one()
    op.create_table(
        "scim_tokens",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("token_hash", sa.LargeBinary, nullable=False),
        sa.Column("hint", sa.String(16), nullable=False),
        sa.Column("created_by", UUID(as_uuid=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("org_id", name="pk_scim_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_scim_tokens_token_hash"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], ondelete="CASCADE", name="fk_scim_tokens_org_id_organizations"
        ),
    )
    for statement in tenant_rls("scim_tokens", maintenance_role=owner):
        op.execute(statement)
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON scim_tokens TO {runtime_role}")


def downgrade(runtime_role: str) -> None:
    op.execute(f"REVOKE ALL ON scim_tokens FROM {runtime_role}")
    op.drop_table("scim_tokens")
    op.execute("DELETE FROM memberships WHERE status = 'suspended'")
    op.execute(f"ALTER TABLE memberships DROP CONSTRAINT IF EXISTS {_STATUS}")
    op.execute(f"ALTER TABLE memberships ADD CONSTRAINT {_STATUS} CHECK (status IN ('active', 'invited'))")
