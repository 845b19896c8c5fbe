"""SCIM 2.0 Groups: an organization's identity provider pushes its groups and their members.

- ``scim_groups`` (tenant table): a group as the identity provider names it; ``display_name`` is unique
  per organization regardless of case (``uq_scim_groups_org_id_display_name``), ``external_id`` is the
  provider's own id for it.
- ``scim_group_members`` (tenant table): who is in a group. Both references carry ``org_id``, so a
  member is always a membership of the group's organization; removing the membership or the group
  removes the row.

The groups' names count as values of the ``groups`` claim for the organization's role mappings
(backend/sso/login.py).

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from backend.core.rls import purge_policy, tenant_rls

revision: str = "0038"
down_revision: str | None = "0037"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade(runtime_role: str) -> None:
    owner = op.get_bind().execute(sa.text("SELECT current_user")).scalar_one()
    op.create_table(
        "scim_groups",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=False),
        sa.Column("external_id", sa.String(255)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_scim_groups"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], ondelete="CASCADE", name="fk_scim_groups_org_id_organizations"
        ),
    )
    op.create_index(
        "uq_scim_groups_org_id_display_name",
        "scim_groups",
        ["org_id", sa.text("lower(display_name)")],
        unique=True,
    )
    op.create_table(
        "scim_group_members",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("group_id", UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "group_id", "user_id", name="pk_scim_group_members"),
        sa.ForeignKeyConstraint(
            ["org_id", "group_id"],
            ["scim_groups.org_id", "scim_groups.id"],
            ondelete="CASCADE",
            name="fk_scim_group_members_org_id_group_id_scim_groups",
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "user_id"],
            ["memberships.org_id", "memberships.user_id"],
            ondelete="CASCADE",
            name="fk_scim_group_members_org_id_user_id_memberships",
        ),
    )
    op.create_index("ix_scim_group_members_org_id_user_id", "scim_group_members", ["org_id", "user_id"])
    for table in ("scim_groups", "scim_group_members"):
        for statement in tenant_rls(table, maintenance_role=owner):
            op.execute(statement)
        op.execute(purge_policy(table, owner))  # offboarding (migration 0036)
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {runtime_role}")


def downgrade(runtime_role: str) -> None:
    for table in ("scim_group_members", "scim_groups"):
        op.execute(f"REVOKE ALL ON {table} FROM {runtime_role}")
        op.drop_table(table)
