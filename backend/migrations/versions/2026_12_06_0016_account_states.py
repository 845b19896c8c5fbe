"""Accounts disabled or deleted in Keycloak are disabled here: two SECURITY DEFINER functions let the
worker that follows Keycloak read every account's state and set it, and nothing else.

The runtime role sees only its own user row and those of its current organization's members (RLS), so
a platform-wide job cannot read or update ``users`` directly. ``app_account_states()`` returns each
account's id and whether it is disabled; ``app_set_account_disabled(id, disabled)`` sets or clears
``disabled_at`` and says whether it changed. Every request already refuses a disabled account (the
context function ``app_enter`` returns ``disabled_at``, and personal tokens join on it).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIGNATURES = ("app_account_states()", "app_set_account_disabled(uuid, boolean)")
FUNCTIONS = [
    """
    CREATE FUNCTION app_account_states() RETURNS TABLE (id uuid, disabled boolean)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
    AS $$ SELECT u.id, u.disabled_at IS NOT NULL FROM users u $$
    """,
    """
    CREATE FUNCTION app_set_account_disabled(p_id uuid, p_disabled boolean) RETURNS boolean
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public
    AS $$
        WITH changed AS (
            UPDATE users SET disabled_at = CASE WHEN p_disabled THEN now() END, updated_at = now()
            WHERE id = p_id AND (disabled_at IS NOT NULL) <> p_disabled
            RETURNING 1
        )
        SELECT EXISTS (SELECT 1 FROM changed)
    $$
    """,
]


def upgrade(runtime_role: str) -> None:
    owner = op.get_bind().execute(sa.text("SELECT current_user")).scalar_one()
    # The functions run as the owner role, which RLS lets read every user (maintenance_read) but not
    # update: this policy lets it update users, the one thing ``app_set_account_disabled`` does.
    op.execute(f"CREATE POLICY account_state ON users FOR UPDATE TO {owner} USING (true) WITH CHECK (true)")
    for statement in FUNCTIONS:
        op.execute(statement)
    for signature in SIGNATURES:
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {runtime_role}")


def downgrade(runtime_role: str) -> None:  # noqa: ARG001  (the signature env.py calls)
    for signature in SIGNATURES:
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    op.execute("DROP POLICY IF EXISTS account_state ON users")
