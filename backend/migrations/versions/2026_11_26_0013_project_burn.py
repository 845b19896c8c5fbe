"""A project's budget burn, computed in one place: ``project_burn(project, zone, only_user)``.

The projects report (backend/reports) and the project read (GET, list) both use it. ``app_enter`` takes
a fourth argument, ``p_with_burn``: the project GET asks for the burn and gets it inside the
``project_row`` it already returns, in the same single round trip; every other project-scoped request
passes false and pays nothing.

A monthly budget counts the current month in ``zone`` (the reader's member time zone on a project read,
the report's zone in a report). ``only_user`` narrows the entries to one person's (a member's own share
in a report); NULL counts everyone's.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SECURITY INVOKER (the default): the caller's RLS applies to every row it reads. An entry's seconds
# include its corrections; its amount is its rate times those seconds (the reports' ENTRY_SOURCE).
PROJECT_BURN = """
CREATE FUNCTION project_burn(p projects, p_zone text DEFAULT 'UTC', p_only_user uuid DEFAULT NULL)
RETURNS TABLE (
    seconds bigint,
    hours numeric,
    amount numeric,
    month_seconds bigint,
    month_hours numeric,
    month_amount numeric,
    budget_used numeric,
    burn_percent numeric,
    over_budget boolean
)
LANGUAGE sql STABLE
AS $$
    -- MATERIALIZED: the month's start is computed once, not per entry (a zone lookup each time).
    WITH m AS MATERIALIZED (
        SELECT date_trunc('month', now() AT TIME ZONE p_zone) AT TIME ZONE p_zone AS start
    ), x AS (
        SELECT e.start_at, e.currency, e.billable, e.rate,
               coalesce(e.duration_seconds, extract(epoch FROM e.end_at - e.start_at)::int)::bigint
               + coalesce(c.delta, 0)::bigint AS secs
        FROM time_entries e
        LEFT JOIN (SELECT c.entry_id, sum(c.duration_delta_seconds) AS delta FROM time_entry_corrections c
                   WHERE c.org_id = p.org_id GROUP BY c.entry_id) c ON c.entry_id = e.id
        WHERE e.org_id = p.org_id AND e.project_id = p.id AND e.end_at IS NOT NULL AND e.start_at < now()
          AND (p_only_user IS NULL OR e.user_id = p_only_user)
    ), a AS (
        SELECT x.start_at, x.currency, x.secs,
               CASE WHEN x.billable AND x.rate IS NOT NULL THEN round(x.rate * x.secs / 3600.0, 2) END AS amount
        FROM x
    ), t AS (
        SELECT coalesce(sum(a.secs), 0)::bigint AS secs,
               coalesce(sum(a.amount) FILTER (WHERE a.currency IS NOT NULL), 0) AS amount,
               coalesce(sum(a.secs) FILTER (WHERE a.start_at >= m.start), 0)::bigint AS month_secs,
               coalesce(sum(a.amount) FILTER (WHERE a.start_at >= m.start), 0) AS month_amount
        FROM m LEFT JOIN a ON TRUE
    ), u AS (
        SELECT t.*,
               CASE p.budget_kind
                   WHEN 'hours' THEN round(CASE WHEN p.budget_period = 'monthly' THEN t.month_secs
                                                ELSE t.secs END / 3600.0, 2)
                   WHEN 'money' THEN CASE WHEN p.budget_period = 'monthly' THEN t.month_amount ELSE t.amount END
               END AS used
        FROM t
    )
    SELECT u.secs, round(u.secs / 3600.0, 2), u.amount, u.month_secs, round(u.month_secs / 3600.0, 2),
           u.month_amount, u.used,
           CASE WHEN u.used IS NULL OR coalesce(p.budget_amount, 0) = 0 THEN NULL
                ELSE round(u.used * 100 / p.budget_amount, 1) END,
           coalesce(u.used > p.budget_amount, false)
    FROM u
$$
"""

# The zone a member's months are counted in (UTC when they set none).
MEMBER_ZONE = """
CREATE FUNCTION member_zone(p_org uuid, p_user uuid) RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT coalesce((SELECT z.time_zone FROM member_time_zones z WHERE z.org_id = p_org AND z.user_id = p_user),
                    'UTC')
$$
"""

# As in 0006, plus p_with_burn: the burn joins project_row under "budget_burn".
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


def upgrade(runtime_role: str) -> None:
    op.execute(PROJECT_BURN)
    op.execute(MEMBER_ZONE)
    for signature in ("project_burn(projects, text, uuid)", "member_zone(uuid, uuid)"):
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {runtime_role}")
    op.execute("DROP FUNCTION app_enter(uuid, uuid, uuid)")
    op.execute(APP_ENTER)
    op.execute("REVOKE ALL ON FUNCTION app_enter(uuid, uuid, uuid, boolean) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION app_enter(uuid, uuid, uuid, boolean) TO {runtime_role}")


def downgrade(runtime_role: str) -> None:
    spec = importlib.util.spec_from_file_location(
        "app_enter_0006", Path(__file__).with_name("2026_11_26_0006_app_enter_project_row.py")
    )
    assert spec is not None
    assert spec.loader is not None
    previous = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(previous)
    op.execute("DROP FUNCTION app_enter(uuid, uuid, uuid, boolean)")
    op.execute(previous.APP_ENTER)
    op.execute("REVOKE ALL ON FUNCTION app_enter(uuid, uuid, uuid) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION app_enter(uuid, uuid, uuid) TO {runtime_role}")
    op.execute("DROP FUNCTION member_zone(uuid, uuid)")
    op.execute("DROP FUNCTION project_burn(projects, text, uuid)")
