"""Export retention per organization: ``export_settings`` (absent row = the server's default).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from backend.core.rls import tenant_rls

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade(runtime_role: str) -> None:
    owner = op.get_bind().execute(sa.text("SELECT current_user")).scalar_one()
    op.create_table(
        "export_settings",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("retention_hours", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.PrimaryKeyConstraint("org_id", name="pk_export_settings"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], ondelete="CASCADE", name="fk_export_settings_org_id_organizations"
        ),
        sa.CheckConstraint("retention_hours BETWEEN 1 AND 87600", name="ck_export_settings_retention_hours"),
    )
    for statement in tenant_rls("export_settings", maintenance_role=owner):
        op.execute(statement)
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON export_settings TO {runtime_role}")


def downgrade(runtime_role: str) -> None:
    op.execute(f"REVOKE ALL ON export_settings FROM {runtime_role}")
    op.drop_table("export_settings")
