"""An organization may require a second factor of its owners and admins: ``require_mfa_for_admins``.

The flag lives on ``organizations`` and ``app_enter`` returns it (``org_require_mfa``) in the request's one
round trip, so the guard decides the rule from the context without a query (backend/tenancy/guard.py).
``app_enter`` is as in 0013 plus that column (a function's result type cannot change in place: dropped
and recreated).

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIGNATURE = "app_enter(uuid, uuid, uuid, boolean)"

APP_ENTER = """
CREATE FUNCTION app_enter(p_user uuid, p_org uuid, p_project uuid, p_with_burn boolean DEFAULT false)
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
    org_require_mfa boolean,
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
           o.slug, o.name, o.archived_at, o.created_at, o.require_mfa_for_admins,
           m.role, m.status,
           p.name, p.description, p.archived_at, p.created_at,
           pm.role,
           CASE WHEN p.id IS NULL THEN NULL
                ELSE (to_jsonb(p) || jsonb_build_object(
                    'my_role', pm.role,
                    'budget_burn', CASE WHEN p_with_burn
                        THEN (SELECT to_jsonb(b) FROM project_burn(p, member_zone(p_org, p_user)) b) END
                ))::text END
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
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO {runtime_role}")


def upgrade(runtime_role: str) -> None:
    op.add_column(
        "organizations",
        sa.Column("require_mfa_for_admins", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.execute(f"DROP FUNCTION {SIGNATURE}")
    op.execute(APP_ENTER)
    _grant(runtime_role)


def downgrade(runtime_role: str) -> None:
    spec = importlib.util.spec_from_file_location(
        "app_enter_0013", Path(__file__).with_name("2026_11_26_0013_project_burn.py")
    )
    assert spec is not None
    assert spec.loader is not None
    previous = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(previous)
    op.execute(f"DROP FUNCTION {SIGNATURE}")
    op.execute(previous.APP_ENTER)
    _grant(runtime_role)
    op.drop_column("organizations", "require_mfa_for_admins")
