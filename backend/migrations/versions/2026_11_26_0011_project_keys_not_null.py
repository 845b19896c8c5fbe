"""Every project has a key: projects created before 0005 get one derived from their name (as
``backend/projects/service.py`` derives it: ``Website relaunch`` -> ``WEBS``, then ``WEBS2``...), and the
column becomes NOT NULL.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Oldest first per organization, so the earlier project keeps the plain base.
BACKFILL = """
DO $$
DECLARE
    r record;
    base text;
    candidate text;
    n int;
BEGIN
    FOR r IN SELECT org_id, id, name FROM projects WHERE key IS NULL ORDER BY org_id, created_at, id LOOP
        base := ltrim(regexp_replace(upper(r.name), '[^A-Z0-9]', '', 'g'), '0123456789');
        base := CASE WHEN length(base) >= 2 THEN left(base, 4) ELSE left(base || 'PRJ', 3) END;
        candidate := base;
        n := 1;
        WHILE EXISTS (SELECT 1 FROM projects WHERE org_id = r.org_id AND key = candidate) LOOP
            n := n + 1;
            candidate := base || n;
        END LOOP;
        UPDATE projects SET key = candidate WHERE org_id = r.org_id AND id = r.id;
    END LOOP;
END
$$
"""


def upgrade(runtime_role: str) -> None:  # noqa: ARG001
    # The owner is subject to the forced RLS too; lift it for this transaction's backfill only.
    op.execute("ALTER TABLE projects NO FORCE ROW LEVEL SECURITY")
    op.execute(BACKFILL)
    op.execute("ALTER TABLE projects FORCE ROW LEVEL SECURITY")
    op.alter_column("projects", "key", nullable=False)


def downgrade(runtime_role: str) -> None:  # noqa: ARG001
    op.alter_column("projects", "key", nullable=True)  # the backfilled keys stay
