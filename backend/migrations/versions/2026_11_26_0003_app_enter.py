"""app_enter(): bind the tenant and read the caller's context in one round trip; role CHECKs derived
from backend.tenancy.roles (0002 had spelled the project role list out, under a doubled name).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from backend.tenancy.roles import check_constraints

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SECURITY INVOKER (the default): the query runs as the caller, under row-level security, after the
# function has bound the tenant. plpgsql runs its statements in order, so the binding is in force
# before the lookup reads a row; a single SQL statement could not promise that.
APP_ENTER = """
CREATE FUNCTION app_enter(p_user uuid, p_org uuid, p_project uuid)
RETURNS TABLE (
    user_known boolean,
    username varchar,
    email varchar,
    display_name text,
    is_service_account boolean,
    disabled_at timestamptz,
    org_slug varchar,
    org_name text,
    org_archived_at timestamptz,
    org_created_at timestamptz,
    member_role varchar,
    member_status varchar,
    project_name varchar,
    project_description text,
    project_archived_at timestamptz,
    project_created_at timestamptz,
    project_role varchar
)
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_column
BEGIN
    PERFORM set_config('app.org_id', coalesce(p_org::text, ''), true),
            set_config('app.user_id', p_user::text, true);
    RETURN QUERY
    SELECT u.id IS NOT NULL, u.username, u.email, u.display_name, u.is_service_account, u.disabled_at,
           o.slug, o.name, o.archived_at, o.created_at,
           m.role, m.status,
           p.name, p.description, p.archived_at, p.created_at,
           pm.role
    FROM (SELECT p_user AS id) AS me
    LEFT JOIN users u ON u.id = me.id
    LEFT JOIN memberships m ON m.org_id = p_org AND m.user_id = me.id
    LEFT JOIN organizations o ON o.id = m.org_id
    LEFT JOIN projects p ON p.id = p_project AND p.org_id = m.org_id
    LEFT JOIN project_memberships pm ON pm.project_id = p.id AND pm.user_id = me.id;
END
$$
"""


def upgrade(runtime_role: str) -> None:
    op.execute("ALTER TABLE project_memberships DROP CONSTRAINT ck_project_memberships_ck_project_memberships_role")
    for table, name, expression in check_constraints():
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({expression})")
    op.execute(APP_ENTER)
    op.execute("REVOKE ALL ON FUNCTION app_enter(uuid, uuid, uuid) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION app_enter(uuid, uuid, uuid) TO {runtime_role}")


def downgrade(runtime_role: str) -> None:  # noqa: ARG001  (the signature env.py calls)
    op.execute("DROP FUNCTION app_enter(uuid, uuid, uuid)")
    op.execute(
        "ALTER TABLE project_memberships RENAME CONSTRAINT ck_project_memberships_role TO "
        "ck_project_memberships_ck_project_memberships_role"
    )
