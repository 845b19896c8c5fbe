"""Time tracking: entries (one running timer per person, no overlaps), corrections, settings, rates, time
zones, timesheets and imports.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID, ExcludeConstraint

from backend.core.rls import tenant_rls

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENTRY_RANGE = "tstzrange(start_at, coalesce(end_at, 'infinity'::timestamptz))"
TABLES = [
    "time_settings",
    "member_time_zones",
    "time_rates",
    "time_tags",
    "time_entries",
    "time_entry_corrections",
    "timesheets",
    "time_imports",
]
# Corrections are append-only: the runtime role may read and add them, never change or remove one.
APPEND_ONLY = {"time_entry_corrections"}


def _ts(name: str, *, nullable: bool = False, now: bool = True) -> sa.Column[sa.DateTime]:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.text("now()") if now and not nullable else None,
    )


def _uuid(name: str, *, nullable: bool = False) -> sa.Column[UUID[object]]:
    return sa.Column(name, UUID(as_uuid=True), nullable=nullable)


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"], ["organizations.id"], ondelete="CASCADE", name=f"fk_{table}_org_id_organizations"
    )


def _member_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id", "user_id"],
        ["memberships.org_id", "memberships.user_id"],
        ondelete="CASCADE",
        name=f"fk_{table}_org_id_user_id_memberships",
    )


def _user_fk(table: str, column: str, ondelete: str = "RESTRICT") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["users.id"], ondelete=ondelete, name=f"fk_{table}_{column}_users")


def upgrade(runtime_role: str) -> None:
    owner = op.get_bind().execute(sa.text("SELECT current_user")).scalar_one()
    # btree_gist is a trusted extension: the database owner (the migration role) may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")

    op.create_table(
        "time_settings",
        _uuid("org_id"),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("default_rate", sa.Numeric(12, 2)),
        sa.Column("max_duration_minutes", sa.Integer, nullable=False),
        sa.Column("max_future_minutes", sa.Integer, nullable=False),
        sa.Column("prevent_overlaps", sa.Boolean, nullable=False),
        _ts("locked_until", nullable=True),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("org_id", name="pk_time_settings"),
        _org_fk("time_settings"),
        sa.CheckConstraint("max_duration_minutes > 0", name="ck_time_settings_max_duration"),
        sa.CheckConstraint("max_future_minutes >= 0", name="ck_time_settings_max_future"),
        sa.CheckConstraint("default_rate IS NULL OR default_rate >= 0", name="ck_time_settings_default_rate"),
    )
    op.create_table(
        "member_time_zones",
        _uuid("org_id"),
        _uuid("user_id"),
        sa.Column("time_zone", sa.String(64), nullable=False),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("org_id", "user_id", name="pk_member_time_zones"),
        _member_fk("member_time_zones"),
    )
    op.create_table(
        "time_rates",
        _uuid("org_id"),
        _uuid("id"),
        _uuid("user_id", nullable=True),
        _uuid("project_id", nullable=True),
        sa.Column("amount", sa.Numeric(12, 2), nullable=False),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_time_rates"),
        _member_fk("time_rates"),
        sa.ForeignKeyConstraint(
            ["org_id", "project_id"],
            ["projects.org_id", "projects.id"],
            ondelete="CASCADE",
            name="fk_time_rates_org_id_project_id_projects",
        ),
        sa.UniqueConstraint(
            "org_id",
            "user_id",
            "project_id",
            name="uq_time_rates_org_id_user_id_project_id",
            postgresql_nulls_not_distinct=True,
        ),
        sa.CheckConstraint("user_id IS NOT NULL OR project_id IS NOT NULL", name="ck_time_rates_scope"),
        sa.CheckConstraint("amount >= 0", name="ck_time_rates_amount"),
    )
    op.create_table(
        "time_tags",
        _uuid("org_id"),
        sa.Column("name", sa.String(64), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("org_id", "name", name="pk_time_tags"),
        _org_fk("time_tags"),
    )
    op.create_table(
        "time_entries",
        _uuid("org_id"),
        _uuid("id"),
        _uuid("user_id"),
        _uuid("project_id"),
        _uuid("task_id", nullable=True),
        sa.Column("description", sa.Text),
        _ts("start_at", now=False),
        _ts("end_at", nullable=True),
        sa.Column("duration_seconds", sa.Integer),
        sa.Column("billable", sa.Boolean, nullable=False),
        sa.Column("tags", ARRAY(sa.String(64)), nullable=False),
        sa.Column("rate", sa.Numeric(12, 2)),
        sa.Column("currency", sa.String(3)),
        sa.Column("no_overlap", sa.Boolean, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("import_key", sa.String(64)),
        _uuid("created_by"),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_time_entries"),
        _org_fk("time_entries"),
        sa.ForeignKeyConstraint(
            ["org_id", "project_id"],
            ["projects.org_id", "projects.id"],
            ondelete="RESTRICT",
            name="fk_time_entries_org_id_project_id_projects",
        ),
        _user_fk("time_entries", "user_id"),
        _user_fk("time_entries", "created_by"),
        sa.CheckConstraint("end_at IS NULL OR end_at >= start_at", name="ck_time_entries_ends_after_start"),
        sa.CheckConstraint("rate IS NULL OR rate >= 0", name="ck_time_entries_rate"),
        sa.CheckConstraint("source IN ('manual', 'timer', 'import')", name="ck_time_entries_source"),
        sa.UniqueConstraint("org_id", "import_key", name="uq_time_entries_org_id_import_key"),
        ExcludeConstraint(
            ("org_id", "="),
            ("user_id", "="),
            (sa.text(ENTRY_RANGE), "&&"),
            name="ex_time_entries_no_overlap",
            using="gist",
            where=sa.text("no_overlap"),
        ),
    )
    op.create_index("ix_time_entries_org_id_user_id_start_at", "time_entries", ["org_id", "user_id", "start_at"])
    op.create_index("ix_time_entries_org_id_project_id_start_at", "time_entries", ["org_id", "project_id", "start_at"])
    op.create_index(
        "uq_time_entries_running",
        "time_entries",
        ["org_id", "user_id"],
        unique=True,
        postgresql_where=sa.text("end_at IS NULL"),
    )
    op.create_table(
        "time_entry_corrections",
        _uuid("org_id"),
        _uuid("id"),
        _uuid("entry_id"),
        sa.Column("duration_delta_seconds", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        _uuid("created_by"),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_time_entry_corrections"),
        sa.ForeignKeyConstraint(
            ["org_id", "entry_id"],
            ["time_entries.org_id", "time_entries.id"],
            ondelete="RESTRICT",
            name="fk_time_entry_corrections_org_id_entry_id_time_entries",
        ),
        _user_fk("time_entry_corrections", "created_by"),
    )
    op.create_index("ix_time_entry_corrections_org_id_entry_id", "time_entry_corrections", ["org_id", "entry_id"])
    op.create_table(
        "timesheets",
        _uuid("org_id"),
        _uuid("id"),
        _uuid("user_id"),
        sa.Column("week_start", sa.Date, nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _ts("submitted_at", nullable=True),
        _uuid("decided_by", nullable=True),
        _ts("decided_at", nullable=True),
        sa.Column("reason", sa.Text),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_timesheets"),
        _org_fk("timesheets"),
        _user_fk("timesheets", "user_id"),
        _user_fk("timesheets", "decided_by", ondelete="SET NULL"),
        sa.UniqueConstraint("org_id", "user_id", "week_start", name="uq_timesheets_org_id_user_id_week_start"),
        sa.CheckConstraint("status IN ('submitted', 'approved', 'rejected', 'reopened')", name="ck_timesheets_status"),
        sa.CheckConstraint("extract(isodow FROM week_start) = 1", name="ck_timesheets_monday"),
    )
    op.create_table(
        "time_imports",
        _uuid("org_id"),
        _uuid("id"),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("filename", sa.String(255)),
        sa.Column("file_hash", sa.String(64), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("may_create_projects", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_rows", sa.Integer, nullable=False),
        sa.Column("done_rows", sa.Integer, nullable=False),
        sa.Column("imported_rows", sa.Integer, nullable=False),
        sa.Column("duplicate_rows", sa.Integer, nullable=False),
        sa.Column("created_projects", JSONB, nullable=False),
        sa.Column("errors", JSONB, nullable=False),
        _uuid("created_by"),
        _ts("created_at"),
        _ts("finished_at", nullable=True),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_time_imports"),
        _org_fk("time_imports"),
        _user_fk("time_imports", "created_by"),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="ck_time_imports_status"),
        sa.CheckConstraint("source IN ('toggl', 'clockify')", name="ck_time_imports_source"),
    )
    for table in TABLES:
        for statement in tenant_rls(table, maintenance_role=owner):
            op.execute(statement)
        privileges = "SELECT, INSERT" if table in APPEND_ONLY else "SELECT, INSERT, UPDATE, DELETE"
        op.execute(f"GRANT {privileges} ON {table} TO {runtime_role}")


def downgrade(runtime_role: str) -> None:
    for table in reversed(TABLES):
        op.execute(f"REVOKE ALL ON {table} FROM {runtime_role}")
        op.drop_table(table)
    # btree_gist stays: other objects may have come to rely on it, and it grants nothing.
