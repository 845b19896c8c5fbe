"""An organization's rounding rule for reports and exports: up, down or to the nearest N minutes, on
the weekdays it names. Stored entries are never rounded; the rule is applied where figures are read.

Three columns on ``time_settings`` (one row per organization, absent means no rounding):
``rounding_mode`` (none, up, down, nearest), ``rounding_minutes`` (1-240) and ``rounding_weekdays``
(ISO weekdays 1-7 the rule applies on, by the person's own time zone; every day by default).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECKS = {
    "rounding_mode": "rounding_mode IN ('none', 'up', 'down', 'nearest')",
    "rounding_minutes": "rounding_minutes BETWEEN 1 AND 240",
    "rounding_weekdays": "rounding_weekdays <@ ARRAY[1, 2, 3, 4, 5, 6, 7]::smallint[]",
}


def upgrade(runtime_role: str) -> None:  # noqa: ARG001  (the signature env.py calls)
    op.add_column("time_settings", sa.Column("rounding_mode", sa.String(8), nullable=False, server_default="none"))
    op.add_column("time_settings", sa.Column("rounding_minutes", sa.SmallInteger, nullable=False, server_default="1"))
    op.add_column(
        "time_settings",
        sa.Column(
            "rounding_weekdays",
            postgresql.ARRAY(sa.SmallInteger),
            nullable=False,
            server_default=sa.text("'{1,2,3,4,5,6,7}'::smallint[]"),
        ),
    )
    for name, condition in CHECKS.items():
        op.create_check_constraint(f"ck_time_settings_{name}", "time_settings", condition)


def downgrade(runtime_role: str) -> None:  # noqa: ARG001
    for name in CHECKS:
        op.drop_constraint(f"ck_time_settings_{name}", "time_settings", type_="check")
    for column in ("rounding_weekdays", "rounding_minutes", "rounding_mode"):
        op.drop_column("time_settings", column)
