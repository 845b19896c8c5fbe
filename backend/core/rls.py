"""Row-level security declarations, used by migrations.

Tenant tables carry ``org_id``; their policies compare it to ``app.org_id`` (see core.db.bind_tenant).
Rows private to one person inside a tenant add ``app.user_id``. The helpers are wrapped as
``(SELECT app_current_org())`` so Postgres evaluates them once per query, not once per row.
"""

from __future__ import annotations

CURRENT_ORG = "(SELECT app_current_org())"
CURRENT_USER = "(SELECT app_current_user())"

HELPER_FUNCTIONS = [
    # nullif: once a setting has existed in a session, current_setting returns '' rather than NULL;
    # both must mean "no tenant" so that queries fail closed (match nothing) instead of erroring.
    """
    CREATE OR REPLACE FUNCTION app_current_org() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('app.org_id', true), '')::uuid $$
    """,
    """
    CREATE OR REPLACE FUNCTION app_current_user() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('app.user_id', true), '')::uuid $$
    """,
]

DROP_HELPER_FUNCTIONS = [
    "DROP FUNCTION IF EXISTS app_current_org()",
    "DROP FUNCTION IF EXISTS app_current_user()",
]


def enable_rls(
    table: str,
    *,
    using: str,
    check: str | None = None,
    maintenance_role: str | None = None,
    policy: str = "tenant_isolation",
) -> list[str]:
    """ENABLE + FORCE row-level security on ``table`` with one policy for every command.

    ``maintenance_role`` (the migration owner) gets a read-only see-all policy for operator commands
    such as ``audit verify``; the runtime role never does.
    """
    statements = [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY {policy} ON {table} USING ({using}) WITH CHECK ({check or using})",
    ]
    if maintenance_role:
        statements.append(f"CREATE POLICY maintenance_read ON {table} FOR SELECT TO {maintenance_role} USING (true)")
    return statements


def tenant_rls(table: str, *, maintenance_role: str | None = None) -> list[str]:
    """Rows visible and writable only inside their organization."""
    return enable_rls(table, using=f"org_id = {CURRENT_ORG}", maintenance_role=maintenance_role)


def personal_rls(table: str, *, user_column: str = "user_id", maintenance_role: str | None = None) -> list[str]:
    """Rows visible only to their owner, and only inside their organization (e.g. private notes)."""
    return enable_rls(
        table,
        using=f"org_id = {CURRENT_ORG} AND {user_column} = {CURRENT_USER}",
        maintenance_role=maintenance_role,
    )


def command_rls(
    table: str,
    *,
    select: str,
    insert: str,
    update: str,
    delete: str,
    update_check: str | None = None,
    maintenance_role: str | None = None,
) -> list[str]:
    """ENABLE + FORCE row-level security with one policy per command, for rows whose readers, writers
    and deleters differ (a note: its author, the members it is shared with, those who may edit it)."""
    statements = [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY {table}_select ON {table} FOR SELECT USING ({select})",
        f"CREATE POLICY {table}_insert ON {table} FOR INSERT WITH CHECK ({insert})",
        f"CREATE POLICY {table}_update ON {table} FOR UPDATE USING ({update}) WITH CHECK ({update_check or update})",
        f"CREATE POLICY {table}_delete ON {table} FOR DELETE USING ({delete})",
    ]
    if maintenance_role:
        statements.append(f"CREATE POLICY maintenance_read ON {table} FOR SELECT TO {maintenance_role} USING (true)")
    return statements


# --- Offboarding: the owner role's purge of one organization (migration 0036, docs/operations.md) ------

PURGE_ORG = "(SELECT app_purge_org())"

PURGE_FUNCTION = """
    CREATE OR REPLACE FUNCTION app_purge_org() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('app.purge_org_id', true), '')::uuid $$
    """


def purge_policy(table: str, owner: str) -> str:
    """Let ``owner`` (the migration owner, which the offboarding purge connects as) delete the rows of the
    organization being purged (``app.purge_org_id``), and nothing else. Every table with ``org_id``
    needs it from migration 0036 on; the purge refuses to start while one lacks it."""
    return f"CREATE POLICY offboarding_purge ON {table} FOR DELETE TO {owner} USING (org_id = {PURGE_ORG})"
