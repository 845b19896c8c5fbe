"""Audit anchors: the audit chain's head, signed with the organization's export key, per organization.

``audit_anchors`` is append-only for every role: the runtime role is granted SELECT and INSERT only, and a
trigger refuses UPDATE, DELETE and TRUNCATE whoever asks (the owner included; only an explicit
``ALTER TABLE … DISABLE TRIGGER`` or dropping the trigger gets past it, which is DDL the runtime role
cannot run). docs/security.md "Audit anchors".

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from backend.core.rls import tenant_rls

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade(runtime_role: str) -> None:
    owner = op.get_bind().execute(sa.text("SELECT current_user")).scalar_one()
    op.create_table(
        "audit_anchors",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), nullable=False),
        sa.Column("head_seq", sa.BigInteger, nullable=False),
        sa.Column("head_event_id", sa.BigInteger, nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("anchored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("statement", JSONB, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_audit_anchors"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], ondelete="RESTRICT", name="fk_audit_anchors_org_id_organizations"
        ),
    )
    for statement in tenant_rls("audit_anchors", maintenance_role=owner):
        op.execute(statement)
    op.execute(
        """
        CREATE FUNCTION audit_anchors_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit anchors are append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_anchors_no_change BEFORE UPDATE OR DELETE ON audit_anchors"
        " FOR EACH ROW EXECUTE FUNCTION audit_anchors_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_anchors_no_truncate BEFORE TRUNCATE ON audit_anchors"
        " FOR EACH STATEMENT EXECUTE FUNCTION audit_anchors_append_only()"
    )
    op.execute(f"GRANT SELECT, INSERT ON audit_anchors TO {runtime_role}")


def downgrade(runtime_role: str) -> None:
    op.execute(f"REVOKE ALL ON audit_anchors FROM {runtime_role}")
    op.drop_table("audit_anchors")
    op.execute("DROP FUNCTION audit_anchors_append_only()")
