"""Invitation links: the platform's own invitation email carries a signed link bound to a nonce on the
membership; re-sending replaces the nonce (the old link stops working), and accepting, declining or
revoking ends it with the pending membership.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade(runtime_role: str) -> None:  # noqa: ARG001
    # memberships already has forced RLS (0001): the new columns are covered by its tenant policy.
    op.add_column("memberships", sa.Column("invite_nonce", UUID(as_uuid=True), nullable=True))
    op.add_column("memberships", sa.Column("invite_sent_at", sa.DateTime(timezone=True), nullable=True))


def downgrade(runtime_role: str) -> None:  # noqa: ARG001
    op.drop_column("memberships", "invite_sent_at")
    op.drop_column("memberships", "invite_nonce")
