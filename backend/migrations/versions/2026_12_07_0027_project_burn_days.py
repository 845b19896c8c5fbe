"""A project's burn kept per UTC day (``project_burn_days``), so the project read is constant-time.

``project_burn`` (0013) scanned every closed entry of a project on each project read (~2 µs an entry).
``project_burn_days`` holds, per (org, project, UTC day of ``start_at``), the closed entries' count,
seconds (corrections included) and amounts (each entry's rate times seconds rounded to cents, as in 0013).
Triggers on ``time_entries`` and ``time_entry_corrections`` keep it in the same transaction as the
change, so no code path can forget it; they run as the caller (RLS applies: a row is only ever
written inside its own tenant).

``project_burn(p, zone, NULL)`` now reads the days strictly before today (UTC) from the rollup and scans
only two short ranges of entries: today's (``start_at < now()`` keeps the 0013 semantics for entries
that start later today or in the future) and, when the reader's month does not begin at a UTC midnight,
the part of that first UTC day that lies inside the month. Its result is identical to the full scan,
which stays as ``project_burn_scan`` for a member's own share (``only_user``) and for the property
test that proves the two agree (tests/tracking/test_burn_rollup.py).

Concurrency: the corrections trigger locks the entry row (``FOR UPDATE``) before it reads the entry's
corrections, so two corrections of one entry, or a correction and an edit, apply one after the other;
the rollup row itself is changed by ``INSERT … ON CONFLICT DO UPDATE`` with deltas, which never loses an
update under READ COMMITTED.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from backend.core.rls import tenant_rls

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# One entry's share of its day, signed: +1 adds it, -1 takes it away. Open entries count nothing.
APPLY = """
CREATE FUNCTION project_burn_days_apply(e time_entries, p_correction bigint, p_sign integer) RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_secs bigint;
    v_amount numeric;
    v_day date;
BEGIN
    IF e.end_at IS NULL THEN
        RETURN;
    END IF;
    v_secs := coalesce(e.duration_seconds, extract(epoch FROM e.end_at - e.start_at)::int)::bigint + p_correction;
    v_amount := CASE WHEN e.billable AND e.rate IS NOT NULL THEN round(e.rate * v_secs / 3600.0, 2) END;
    v_day := (e.start_at AT TIME ZONE 'UTC')::date;
    IF p_sign > 0 THEN
        INSERT INTO project_burn_days AS d (org_id, project_id, day, entries, seconds, amount, priced_amount)
        VALUES (e.org_id, e.project_id, v_day, 1, v_secs, coalesce(v_amount, 0),
                CASE WHEN e.currency IS NOT NULL THEN coalesce(v_amount, 0) ELSE 0 END)
        ON CONFLICT (org_id, project_id, day) DO UPDATE
        SET entries = d.entries + 1,
            seconds = d.seconds + excluded.seconds,
            amount = d.amount + excluded.amount,
            priced_amount = d.priced_amount + excluded.priced_amount;
        RETURN;
    END IF;
    -- Taking away never inserts: when a project (or organization) is deleted, its rollup rows may be
    -- cascaded away before its entries, and a negative row would then break the foreign key.
    UPDATE project_burn_days d
    SET entries = d.entries - 1,
        seconds = d.seconds - v_secs,
        amount = d.amount - coalesce(v_amount, 0),
        priced_amount = d.priced_amount - CASE WHEN e.currency IS NOT NULL THEN coalesce(v_amount, 0) ELSE 0 END
    WHERE d.org_id = e.org_id AND d.project_id = e.project_id AND d.day = v_day;
    DELETE FROM project_burn_days d
    WHERE d.org_id = e.org_id AND d.project_id = e.project_id AND d.day = v_day AND d.entries = 0;
END
$$
"""

ENTRY_CORRECTION = """
CREATE FUNCTION time_entry_correction_seconds(p_org uuid, p_entry uuid) RETURNS bigint
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(sum(c.duration_delta_seconds), 0)::bigint FROM time_entry_corrections c
    WHERE c.org_id = p_org AND c.entry_id = p_entry
$$
"""

ENTRY_TRIGGER = """
CREATE FUNCTION project_burn_days_entry() RETURNS trigger
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM project_burn_days_apply(OLD, time_entry_correction_seconds(OLD.org_id, OLD.id), -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM project_burn_days_apply(
            NEW, CASE WHEN TG_OP = 'INSERT' THEN 0 ELSE time_entry_correction_seconds(NEW.org_id, NEW.id) END, 1
        );
    END IF;
    RETURN NULL;
END
$$
"""

CORRECTION_TRIGGER = """
CREATE FUNCTION project_burn_days_correction() RETURNS trigger
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_org uuid := coalesce(NEW.org_id, OLD.org_id);
    v_entry uuid := coalesce(NEW.entry_id, OLD.entry_id);
    v_entry_row time_entries;
    v_after bigint;
    v_before bigint;
BEGIN
    IF TG_OP = 'UPDATE' AND (OLD.org_id, OLD.entry_id) IS DISTINCT FROM (NEW.org_id, NEW.entry_id) THEN
        RAISE EXCEPTION 'a correction cannot move to another entry';
    END IF;
    -- The lock orders concurrent corrections (and edits) of one entry; the sum below then sees them all.
    SELECT * INTO v_entry_row FROM time_entries e WHERE e.org_id = v_org AND e.id = v_entry FOR UPDATE;
    IF NOT FOUND OR v_entry_row.end_at IS NULL THEN
        RETURN NULL;
    END IF;
    v_after := time_entry_correction_seconds(v_org, v_entry);
    v_before := v_after
        - CASE WHEN TG_OP = 'DELETE' THEN 0 ELSE NEW.duration_delta_seconds END
        + CASE WHEN TG_OP = 'INSERT' THEN 0 ELSE OLD.duration_delta_seconds END;
    IF v_before <> v_after THEN
        PERFORM project_burn_days_apply(v_entry_row, v_before, -1);
        PERFORM project_burn_days_apply(v_entry_row, v_after, 1);
    END IF;
    RETURN NULL;
END
$$
"""

# The columns an entry's burn depends on; other edits (description, tags, task) skip the trigger.
BURN_COLUMNS = ("org_id", "project_id", "start_at", "end_at", "duration_seconds", "billable", "rate", "currency")

TRIGGERS = [
    "CREATE TRIGGER project_burn_days_entry_insert_delete AFTER INSERT OR DELETE ON time_entries"
    " FOR EACH ROW EXECUTE FUNCTION project_burn_days_entry()",
    "CREATE TRIGGER project_burn_days_entry_update AFTER UPDATE ON time_entries FOR EACH ROW WHEN ("
    + " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in BURN_COLUMNS)
    + ") EXECUTE FUNCTION project_burn_days_entry()",
    "CREATE TRIGGER project_burn_days_correction AFTER INSERT OR UPDATE OR DELETE ON time_entry_corrections"
    " FOR EACH ROW EXECUTE FUNCTION project_burn_days_correction()",
]

# The reader's month (in p_zone) and today (UTC) split the entries into: whole UTC days before today
# (the rollup), today's entries that have started (a scan), and the month's part of its first UTC day
# when that day is split by the month's start (a scan, at most one day, before today).
PROJECT_BURN = """
CREATE OR REPLACE FUNCTION project_burn(p projects, p_zone text DEFAULT 'UTC', p_only_user uuid DEFAULT NULL)
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
    WITH k AS MATERIALIZED (
        SELECT m.start AS month_start,
               (m.start AT TIME ZONE 'UTC')::date AS month_day,
               date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS today_start,
               (now() AT TIME ZONE 'UTC')::date AS today
        FROM (SELECT date_trunc('month', now() AT TIME ZONE p_zone) AT TIME ZONE p_zone AS start) m
    ), r AS (
        SELECT coalesce(sum(d.seconds), 0)::bigint AS secs,
               coalesce(sum(d.priced_amount), 0) AS amount,
               coalesce(sum(d.seconds) FILTER (WHERE d.day::timestamp AT TIME ZONE 'UTC' >= k.month_start), 0)::bigint
                   AS month_secs,
               coalesce(sum(d.amount) FILTER (WHERE d.day::timestamp AT TIME ZONE 'UTC' >= k.month_start), 0)
                   AS month_amount
        FROM k LEFT JOIN project_burn_days d
            ON d.org_id = p.org_id AND d.project_id = p.id AND d.day < k.today
    ), x AS (
        -- Two disjoint start_at ranges, each an index range scan: today's started entries, and the
        -- month's part of its split first UTC day (that day lies before today).
        SELECT e.start_at >= k.today_start AS today, e.start_at >= k.month_start AS in_month, e.currency,
               coalesce(e.duration_seconds, extract(epoch FROM e.end_at - e.start_at)::int)::bigint
               + time_entry_correction_seconds(e.org_id, e.id) AS secs,
               e.billable, e.rate
        FROM k JOIN time_entries e ON e.org_id = p.org_id AND e.project_id = p.id AND e.end_at IS NOT NULL
            AND e.start_at >= k.today_start AND e.start_at < now()
        WHERE p_only_user IS NULL
        UNION ALL
        SELECT false, true, e.currency,
               coalesce(e.duration_seconds, extract(epoch FROM e.end_at - e.start_at)::int)::bigint
               + time_entry_correction_seconds(e.org_id, e.id),
               e.billable, e.rate
        FROM k JOIN time_entries e ON e.org_id = p.org_id AND e.project_id = p.id AND e.end_at IS NOT NULL
            AND e.start_at >= k.month_start
            AND e.start_at < least((k.month_day + 1)::timestamp AT TIME ZONE 'UTC', k.today_start)
        WHERE p_only_user IS NULL AND k.month_start > k.month_day::timestamp AT TIME ZONE 'UTC'
    ), a AS (
        SELECT x.*, CASE WHEN x.billable AND x.rate IS NOT NULL THEN round(x.rate * x.secs / 3600.0, 2) END AS amt
        FROM x
    ), s AS (
        SELECT coalesce(sum(a.secs) FILTER (WHERE a.today), 0)::bigint AS secs,
               coalesce(sum(a.amt) FILTER (WHERE a.today AND a.currency IS NOT NULL), 0) AS amount,
               coalesce(sum(a.secs) FILTER (WHERE a.in_month), 0)::bigint AS month_secs,
               coalesce(sum(a.amt) FILTER (WHERE a.in_month), 0) AS month_amount
        FROM a
    ), t AS (
        SELECT r.secs + s.secs AS secs, r.amount + s.amount AS amount,
               r.month_secs + s.month_secs AS month_secs, r.month_amount + s.month_amount AS month_amount
        FROM r, s
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
    WHERE p_only_user IS NULL
    UNION ALL
    SELECT * FROM project_burn_scan(p, p_zone, p_only_user) WHERE p_only_user IS NOT NULL
$$
"""


def _previous_burn() -> str:
    spec = importlib.util.spec_from_file_location(
        "project_burn_0013", Path(__file__).with_name("2026_11_26_0013_project_burn.py")
    )
    assert spec is not None
    assert spec.loader is not None
    previous = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(previous)
    return str(previous.PROJECT_BURN)


def upgrade(runtime_role: str) -> None:
    owner = op.get_bind().execute(sa.text("SELECT current_user")).scalar_one()
    op.create_table(
        "project_burn_days",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("project_id", UUID(as_uuid=True), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("entries", sa.Integer, nullable=False),
        sa.Column("seconds", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.Numeric(18, 2), nullable=False),
        sa.Column("priced_amount", sa.Numeric(18, 2), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "project_id", "day", name="pk_project_burn_days"),
        sa.ForeignKeyConstraint(
            ["org_id", "project_id"],
            ["projects.org_id", "projects.id"],
            ondelete="CASCADE",
            name="fk_project_burn_days_org_id_project_id_projects",
        ),
    )
    # The old full scan, renamed: a member's own share, and the reference the property test compares to.
    op.execute(_previous_burn().replace("CREATE FUNCTION project_burn(", "CREATE FUNCTION project_burn_scan("))
    for fn in (APPLY, ENTRY_CORRECTION, ENTRY_TRIGGER, CORRECTION_TRIGGER):
        op.execute(fn)
    # Fill from the entries already there (closed ones), corrections included; before row-level security
    # is forced on the new table, which the owner may read but not write (as on every tenant table).
    op.execute(
        """
        INSERT INTO project_burn_days (org_id, project_id, day, entries, seconds, amount, priced_amount)
        SELECT x.org_id, x.project_id, x.day, count(*), sum(x.secs), coalesce(sum(x.amt), 0),
               coalesce(sum(x.amt) FILTER (WHERE x.currency IS NOT NULL), 0)
        FROM (
            SELECT e.org_id, e.project_id, (e.start_at AT TIME ZONE 'UTC')::date AS day, e.currency, y.secs,
                   CASE WHEN e.billable AND e.rate IS NOT NULL THEN round(e.rate * y.secs / 3600.0, 2) END AS amt
            FROM time_entries e
            CROSS JOIN LATERAL (
                SELECT coalesce(e.duration_seconds, extract(epoch FROM e.end_at - e.start_at)::int)::bigint
                       + time_entry_correction_seconds(e.org_id, e.id) AS secs
            ) y
            WHERE e.end_at IS NOT NULL
        ) x
        GROUP BY x.org_id, x.project_id, x.day
        """
    )
    for statement in tenant_rls("project_burn_days", maintenance_role=owner):
        op.execute(statement)
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON project_burn_days TO {runtime_role}")
    for signature in (
        "project_burn_scan(projects, text, uuid)",
        "project_burn_days_apply(time_entries, bigint, integer)",
        "time_entry_correction_seconds(uuid, uuid)",
        "project_burn_days_entry()",
        "project_burn_days_correction()",
    ):
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {runtime_role}")
    for trigger in TRIGGERS:
        op.execute(trigger)
    op.execute(PROJECT_BURN)


def downgrade(runtime_role: str) -> None:
    op.execute(_previous_burn().replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.execute("DROP TRIGGER project_burn_days_correction ON time_entry_corrections")
    op.execute("DROP TRIGGER project_burn_days_entry_update ON time_entries")
    op.execute("DROP TRIGGER project_burn_days_entry_insert_delete ON time_entries")
    op.execute("DROP FUNCTION project_burn_days_correction()")
    op.execute("DROP FUNCTION project_burn_days_entry()")
    op.execute("DROP FUNCTION project_burn_days_apply(time_entries, bigint, integer)")
    op.execute("DROP FUNCTION project_burn_scan(projects, text, uuid)")
    op.execute("DROP FUNCTION time_entry_correction_seconds(uuid, uuid)")
    op.execute(f"REVOKE ALL ON project_burn_days FROM {runtime_role}")
    op.drop_table("project_burn_days")
