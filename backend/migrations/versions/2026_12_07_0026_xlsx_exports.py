"""XLSX exports: ``exports.format`` may be ``xlsx``. (The constraint's name doubles its prefix, as
``ck_exports_ck_exports_kind`` does: migration 0008 gave ``ck_exports_format`` to the naming convention.)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade(runtime_role: str) -> None:  # noqa: ARG001  (the signature env.py calls)
    op.execute("ALTER TABLE exports DROP CONSTRAINT ck_exports_ck_exports_format")
    op.execute(
        "ALTER TABLE exports ADD CONSTRAINT ck_exports_ck_exports_format CHECK (format IN ('csv', 'pdf', 'xlsx'))"
    )


def downgrade(runtime_role: str) -> None:  # noqa: ARG001
    op.execute("DELETE FROM exports WHERE format = 'xlsx'")
    op.execute("ALTER TABLE exports DROP CONSTRAINT ck_exports_ck_exports_format")
    op.execute("ALTER TABLE exports ADD CONSTRAINT ck_exports_ck_exports_format CHECK (format IN ('csv', 'pdf'))")
