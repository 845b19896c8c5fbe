"""outbox_stats(): the relay's backlog (unsent rows, age of the oldest) for the metrics endpoint.

The runtime role cannot read the outbox (0009); this SECURITY DEFINER function tells it two numbers
and nothing about any tenant's rows.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The partial index ix_outbox_due covers exactly the unsent rows, so this stays cheap with a long sent tail.
OUTBOX_STATS = """
CREATE FUNCTION outbox_stats(OUT pending bigint, OUT oldest_age_seconds double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::double precision
    FROM outbox WHERE sent_at IS NULL
$$
"""


def upgrade(runtime_role: str) -> None:
    op.execute(OUTBOX_STATS)
    op.execute("REVOKE ALL ON FUNCTION outbox_stats() FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION outbox_stats() TO {runtime_role}")


def downgrade(runtime_role: str) -> None:  # noqa: ARG001  (the signature env.py calls)
    op.execute("DROP FUNCTION IF EXISTS outbox_stats()")
