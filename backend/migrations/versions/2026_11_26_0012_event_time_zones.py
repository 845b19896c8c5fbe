"""Events carry an IANA time zone: a recurring event repeats at the same wall-clock time in it (a weekly
09:00 Europe/Berlin meeting stays at 09:00 across daylight-saving changes). Existing events keep UTC,
which is how they were expanded until now.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade(runtime_role: str) -> None:  # noqa: ARG001
    op.add_column("events", sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"))


def downgrade(runtime_role: str) -> None:  # noqa: ARG001
    op.drop_column("events", "timezone")
