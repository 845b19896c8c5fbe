"""app_enter() also returns the whole project row (as JSON, with the caller's project role), so a
project read needs no second query.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in 0003, plus project_row: to_jsonb keeps numerics exact and carries every column, so new
# project fields reach the read without changing this function again.
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
    project_role varchar,
    project_row text
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
           pm.role,
           CASE WHEN p.id IS NULL THEN NULL
                ELSE (to_jsonb(p) || jsonb_build_object('my_role', pm.role))::text END
    FROM (SELECT p_user AS id) AS me
    LEFT JOIN users u ON u.id = me.id
    LEFT JOIN memberships m ON m.org_id = p_org AND m.user_id = me.id
    LEFT JOIN organizations o ON o.id = m.org_id
    LEFT JOIN projects p ON p.id = p_project AND p.org_id = m.org_id
    LEFT JOIN project_memberships pm ON pm.project_id = p.id AND pm.user_id = me.id;
END
$$
"""


def _grant(runtime_role: str) -> None:
    op.execute("REVOKE ALL ON FUNCTION app_enter(uuid, uuid, uuid) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION app_enter(uuid, uuid, uuid) TO {runtime_role}")


def upgrade(runtime_role: str) -> None:
    op.execute("DROP FUNCTION app_enter(uuid, uuid, uuid)")  # its result columns change
    op.execute(APP_ENTER)
    _grant(runtime_role)


def downgrade(runtime_role: str) -> None:
    spec = importlib.util.spec_from_file_location(
        "app_enter_0003", Path(__file__).with_name("2026_11_26_0003_app_enter.py")
    )
    assert spec is not None
    assert spec.loader is not None
    previous = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(previous)
    op.execute("DROP FUNCTION app_enter(uuid, uuid, uuid)")
    op.execute(previous.APP_ENTER)
    _grant(runtime_role)
