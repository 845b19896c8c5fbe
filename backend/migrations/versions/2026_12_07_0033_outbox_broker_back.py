"""The outbox after a broker outage: rows that failed while Redis was away are due again at once.

Each failed send backs its row off exponentially (1 s, 2 s, 4 s ... 60 s, migration 0009). That is
right for a message that fails on its own, but during a Redis outage every row fails for the same
reason, and after a long outage the rows would wait up to a minute more once Redis is back. The relay
now probes the broker while it is away and, when it answers again, calls ``outbox_broker_back()``:
every unsent row that failed becomes due now. Like the other outbox functions it is SECURITY DEFINER
(the runtime role cannot read or update the outbox) and does nothing else.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIGNATURE = "outbox_broker_back()"


def upgrade(runtime_role: str) -> None:
    op.execute(
        """
        CREATE FUNCTION outbox_broker_back() RETURNS integer
        LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public
        AS $$
            WITH due AS (
                UPDATE outbox SET next_attempt_at = now()
                WHERE sent_at IS NULL AND last_error IS NOT NULL AND next_attempt_at > now()
                RETURNING 1
            )
            SELECT count(*)::integer FROM due
        $$
        """
    )
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO {runtime_role}")


def downgrade(runtime_role: str) -> None:  # noqa: ARG001
    op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
