"""Exports of the audit trail: ``exports.kind`` may be ``audit``. (The constraint's name doubles its
prefix: migration 0008 gave ``ck_exports_kind`` to the naming convention, which prefixed it again.)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade(runtime_role: str) -> None:  # noqa: ARG001  (the signature env.py calls)
    op.execute("ALTER TABLE exports DROP CONSTRAINT ck_exports_ck_exports_kind")
    op.execute(
        "ALTER TABLE exports ADD CONSTRAINT ck_exports_ck_exports_kind CHECK (kind IN ('detailed', 'timesheet', 'summary', 'audit'))"
    )


def downgrade(runtime_role: str) -> None:  # noqa: ARG001
    op.execute("DELETE FROM exports WHERE kind = 'audit'")
    op.execute("ALTER TABLE exports DROP CONSTRAINT ck_exports_ck_exports_kind")
    op.execute(
        "ALTER TABLE exports ADD CONSTRAINT ck_exports_ck_exports_kind CHECK (kind IN ('detailed', 'timesheet', 'summary'))"
    )
