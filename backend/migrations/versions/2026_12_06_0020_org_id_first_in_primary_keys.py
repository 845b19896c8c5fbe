"""Citus-ready keys: every tenant table's primary key starts with org_id.

A table distributed by org_id (Citus) may only have unique constraints that include org_id, and a key led
by org_id keeps one tenant's rows together in the index. The foreign keys between tenant tables already
reference (org_id, id) unique constraints, so no foreign key changes here; ids stay uuid4, unique in
practice, and every query reaches them with the tenant bound (RLS adds org_id to the predicate).
The outbox stays keyed by id: its org_id is nullable (tenantless jobs) and it is not distributed.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> the key's columns before org_id was put first
KEYS: dict[str, tuple[str, ...]] = {
    "audit_events": ("id",),
    "clients": ("id",),
    "decisions": ("id",),
    "diagnostic_pings": ("id",),
    "event_attendees": ("event_id", "user_id"),
    "event_cancellations": ("event_id", "occurrence_start"),
    "events": ("id",),
    "note_shares": ("id",),
    "notes": ("id",),
    "personal_tokens": ("id",),
    "project_memberships": ("project_id", "user_id"),
    "projects": ("id",),
    "task_assignees": ("task_id", "user_id"),
    "task_attachments": ("id",),
    "task_comments": ("id",),
    "tasks": ("id",),
}


def _rekey(table: str, columns: Sequence[str]) -> None:
    op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}")
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({', '.join(columns)})")


def upgrade(runtime_role: str) -> None:  # noqa: ARG001  (the signature env.py calls)
    for table, columns in KEYS.items():
        _rekey(table, ("org_id", *columns))


def downgrade(runtime_role: str) -> None:  # noqa: ARG001
    for table, columns in KEYS.items():
        _rekey(table, columns)
