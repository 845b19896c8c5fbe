"""The transactional outbox: jobs are rows committed with the data they refer to, relayed to Redis later.

RLS: the runtime role may only INSERT rows of its bound tenant (``org_id`` is filled from
``app_current_org()`` by a trigger) and has no other privilege on the table. The relay, which must see
every tenant's rows, goes through three SECURITY DEFINER functions owned by the owner role that claim
due rows (``FOR UPDATE SKIP LOCKED``, with a lease) and record success or failure, and nothing else.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from backend.core.rls import CURRENT_ORG

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every function pins search_path so a caller cannot shadow outbox or now() with objects of its own.
FUNCTIONS = [
    """
    CREATE FUNCTION outbox_fill_org() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, public
    AS $$ BEGIN NEW.org_id := coalesce(NEW.org_id, app_current_org()); RETURN NEW; END $$
    """,
    """
    CREATE FUNCTION outbox_notify() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, public
    AS $$ BEGIN PERFORM pg_notify('outbox', ''); RETURN NULL; END $$
    """,
    # Claim up to p_batch due rows: each gets attempts + 1 and a lease (next_attempt_at moves ahead), so
    # a second relay skips them; a relay that dies mid-send leaves them to be retried when it runs out.
    """
    CREATE FUNCTION outbox_claim(p_batch integer, p_lease double precision)
    RETURNS SETOF outbox
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public
    AS $$
        UPDATE outbox o
        SET attempts = o.attempts + 1,
            next_attempt_at = now() + make_interval(secs => p_lease)
        FROM (
            SELECT id FROM outbox
            WHERE sent_at IS NULL AND next_attempt_at <= now()
            ORDER BY next_attempt_at, created_at
            LIMIT least(greatest(p_batch, 1), 1000)
            FOR UPDATE SKIP LOCKED
        ) due
        WHERE o.id = due.id
        RETURNING o.*
    $$
    """,
    """
    CREATE FUNCTION outbox_sent(p_ids uuid[]) RETURNS void
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public
    AS $$
        UPDATE outbox SET sent_at = now(), last_error = NULL WHERE id = ANY(p_ids) AND sent_at IS NULL;
        DELETE FROM outbox WHERE sent_at < now() - interval '7 days'
    $$
    """,
    # Exponential back-off: 1 s, 2 s, 4 s ... capped at 60 s.
    """
    CREATE FUNCTION outbox_failed(p_id uuid, p_error text) RETURNS void
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public
    AS $$
        UPDATE outbox
        SET last_error = left(p_error, 1000),
            next_attempt_at = now() + make_interval(secs => least(power(2, greatest(attempts - 1, 0)), 60))
        WHERE id = p_id AND sent_at IS NULL
    $$
    """,
]


def upgrade(runtime_role: str) -> None:
    owner = op.get_bind().exec_driver_sql("SELECT current_user").scalar_one()
    op.create_table(
        "outbox",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("org_id", UUID(as_uuid=True), nullable=True),
        sa.Column("queue_name", sa.String(100), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=False),
        sa.Column("arguments", JSONB, nullable=False, server_default=sa.text("'[]'")),
        sa.Column("keywords", JSONB, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("request_id", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
    )
    op.execute("CREATE INDEX ix_outbox_due ON outbox (next_attempt_at, created_at) WHERE sent_at IS NULL")
    op.execute("CREATE INDEX ix_outbox_sent_at ON outbox (sent_at) WHERE sent_at IS NOT NULL")
    for statement in FUNCTIONS:
        op.execute(statement)
    op.execute("CREATE TRIGGER outbox_fill_org BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION outbox_fill_org()")
    op.execute(
        "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()"
    )
    op.execute("ALTER TABLE outbox ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE outbox FORCE ROW LEVEL SECURITY")
    # The runtime role writes rows of its own tenant (or tenantless rows when no tenant is bound)...
    op.execute(
        f"CREATE POLICY outbox_insert ON outbox FOR INSERT TO {runtime_role} "
        f"WITH CHECK (org_id IS NOT DISTINCT FROM {CURRENT_ORG})"
    )
    # ...and only the owner role, i.e. the SECURITY DEFINER functions and operators, reads or updates.
    op.execute(f"CREATE POLICY outbox_relay ON outbox FOR ALL TO {owner} USING (true) WITH CHECK (true)")
    op.execute(f"GRANT INSERT ON outbox TO {runtime_role}")
    for signature in ("outbox_claim(integer, double precision)", "outbox_sent(uuid[])", "outbox_failed(uuid, text)"):
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {runtime_role}")


def downgrade(runtime_role: str) -> None:  # noqa: ARG001  (the signature env.py calls)
    for signature in ("outbox_claim(integer, double precision)", "outbox_sent(uuid[])", "outbox_failed(uuid, text)"):
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    op.drop_table("outbox")
    op.execute("DROP FUNCTION IF EXISTS outbox_notify()")
    op.execute("DROP FUNCTION IF EXISTS outbox_fill_org()")
