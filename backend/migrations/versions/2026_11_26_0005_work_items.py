"""Work items: clients, the rest of a project's fields, tasks (assignees, comments, attachments), notes with
sharing, calendar events and decisions.

Every table carries ``org_id`` and references its neighbours through ``(org_id, id)`` so no row can point
across tenants; every table has forced row-level security.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR, UUID

from backend.core.rls import CURRENT_ORG, CURRENT_USER, command_rls, tenant_rls

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, *, nullable: bool = False) -> sa.Column[sa.DateTime]:
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=nullable, server_default=None if nullable else sa.text("now()")
    )


def _org_id() -> sa.Column[UUID]:
    return sa.Column(
        "org_id", UUID(as_uuid=True), sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )


def _tenant_table(owner: str, runtime_role: str, table: str) -> None:
    for statement in tenant_rls(table, maintenance_role=owner):
        op.execute(statement)
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {runtime_role}")


def _clients_and_projects(owner: str, runtime_role: str) -> None:
    op.create_table(
        "clients",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        _org_id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("contact_name", sa.String(200)),
        sa.Column("contact_email", sa.String(320)),
        sa.Column("notes", sa.Text),
        _ts("archived_at", nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.UniqueConstraint("org_id", "id", name="uq_clients_org_id_id"),
        sa.UniqueConstraint("org_id", "name", name="uq_clients_org_id_name"),
    )
    _tenant_table(owner, runtime_role, "clients")

    op.add_column("projects", sa.Column("key", sa.String(10)))
    op.add_column("projects", sa.Column("client_id", UUID(as_uuid=True)))
    op.add_column("projects", sa.Column("status", sa.String(16), nullable=False, server_default="active"))
    op.add_column("projects", sa.Column("priority", sa.String(16), nullable=False, server_default="normal"))
    op.add_column("projects", sa.Column("color", sa.String(7)))
    op.add_column("projects", sa.Column("tags", ARRAY(sa.String(50)), nullable=False, server_default=sa.text("'{}'")))
    op.add_column("projects", sa.Column("start_date", sa.Date))
    op.add_column("projects", sa.Column("due_date", sa.Date))
    op.add_column("projects", sa.Column("estimate_hours", sa.Numeric(10, 2)))
    op.add_column("projects", sa.Column("budget_kind", sa.String(16)))
    op.add_column("projects", sa.Column("budget_period", sa.String(16)))
    op.add_column("projects", sa.Column("budget_amount", sa.Numeric(14, 2)))
    op.add_column("projects", sa.Column("currency", sa.String(3)))
    op.add_column("projects", sa.Column("billable", sa.Boolean, nullable=False, server_default=sa.text("true")))
    op.add_column("projects", sa.Column("hourly_rate", sa.Numeric(12, 2)))
    op.add_column("projects", sa.Column("fixed_fee", sa.Numeric(14, 2)))
    op.add_column("projects", sa.Column("task_seq", sa.Integer, nullable=False, server_default=sa.text("0")))
    op.create_unique_constraint("uq_projects_org_id_key", "projects", ["org_id", "key"])
    op.create_foreign_key(
        "fk_projects_org_id_client_id_clients",
        "projects",
        "clients",
        ["org_id", "client_id"],
        ["org_id", "id"],
        ondelete="RESTRICT",
    )
    for name, expression in [
        ("key_format", "key ~ '^[A-Z][A-Z0-9]{1,9}$'"),
        ("status", "status IN ('planned', 'active', 'on_hold', 'done')"),
        ("priority", "priority IN ('low', 'normal', 'high', 'urgent')"),
        ("budget_kind", "budget_kind IN ('hours', 'money')"),
        ("budget_period", "budget_period IN ('total', 'monthly')"),
        ("color_format", "color ~ '^#[0-9a-f]{6}$'"),
        ("dates", "due_date IS NULL OR start_date IS NULL OR due_date >= start_date"),
    ]:
        op.create_check_constraint(name, "projects", expression)  # named ck_projects_<name>
    op.create_index("ix_projects_org_client", "projects", ["org_id", "client_id"])
    op.create_index("ix_projects_tags", "projects", ["tags"], postgresql_using="gin")


def _users_fk(name: str) -> sa.Column[UUID]:
    return sa.Column(name, UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="SET NULL"))


def _tasks(owner: str, runtime_role: str) -> None:
    op.create_table(
        "tasks",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        _org_id(),
        sa.Column("project_id", UUID(as_uuid=True), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("due_date", sa.Date),
        sa.Column("estimate_hours", sa.Numeric(10, 2)),
        sa.Column("labels", ARRAY(sa.String(50)), nullable=False, server_default=sa.text("'{}'")),
        _ts("completed_at", nullable=True),
        _users_fk("created_by"),
        _ts("deleted_at", nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.UniqueConstraint("org_id", "id", name="uq_tasks_org_id_id"),
        sa.UniqueConstraint("project_id", "number", name="uq_tasks_project_id_number"),
        sa.ForeignKeyConstraint(
            ["org_id", "project_id"], ["projects.org_id", "projects.id"], ondelete="CASCADE", name="fk_tasks_project"
        ),
        sa.CheckConstraint("status IN ('todo', 'in_progress', 'done')", name="status"),
        sa.CheckConstraint("priority IN ('low', 'normal', 'high', 'urgent')", name="priority"),
        sa.CheckConstraint("(status = 'done') = (completed_at IS NOT NULL)", name="completed"),
    )
    op.create_index("ix_tasks_org_project", "tasks", ["org_id", "project_id"])
    op.create_table(
        "task_assignees",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("task_id", UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("task_id", "user_id", name="pk_task_assignees"),
        sa.ForeignKeyConstraint(
            ["org_id", "task_id"], ["tasks.org_id", "tasks.id"], ondelete="CASCADE", name="fk_task_assignees_task"
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "user_id"],
            ["memberships.org_id", "memberships.user_id"],
            ondelete="CASCADE",
            name="fk_task_assignees_membership",
        ),
    )
    op.create_index("ix_task_assignees_org_user", "task_assignees", ["org_id", "user_id"])
    op.create_table(
        "task_comments",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        _org_id(),
        sa.Column("task_id", UUID(as_uuid=True), nullable=False),
        _users_fk("author_id"),
        sa.Column("body", sa.Text, nullable=False),
        _ts("edited_at", nullable=True),
        _ts("created_at"),
        sa.UniqueConstraint("org_id", "id", name="uq_task_comments_org_id_id"),
        sa.ForeignKeyConstraint(
            ["org_id", "task_id"], ["tasks.org_id", "tasks.id"], ondelete="CASCADE", name="fk_task_comments_task"
        ),
    )
    op.create_index("ix_task_comments_task_created", "task_comments", ["task_id", "created_at"])
    op.create_table(
        "task_attachments",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        _org_id(),
        sa.Column("task_id", UUID(as_uuid=True), nullable=False),
        sa.Column("comment_id", UUID(as_uuid=True)),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_key", sa.String(255), nullable=False),
        _users_fk("uploaded_by"),
        _ts("created_at"),
        sa.UniqueConstraint("org_id", "id", name="uq_task_attachments_org_id_id"),
        sa.UniqueConstraint("storage_key", name="uq_task_attachments_storage_key"),
        sa.ForeignKeyConstraint(
            ["org_id", "task_id"], ["tasks.org_id", "tasks.id"], ondelete="CASCADE", name="fk_task_attachments_task"
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "comment_id"],
            ["task_comments.org_id", "task_comments.id"],
            ondelete="CASCADE",
            name="fk_task_attachments_comment",
        ),
        sa.CheckConstraint("size_bytes >= 0", name="size"),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256"),
    )
    op.create_index("ix_task_attachments_task", "task_attachments", ["task_id", "created_at"])
    for table in ("tasks", "task_assignees", "task_comments", "task_attachments"):
        _tenant_table(owner, runtime_role, table)


SEARCH_EXPRESSION = "to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(body, ''))"
_MY_PROJECTS = f"(SELECT pm.project_id FROM project_memberships pm WHERE pm.user_id = {CURRENT_USER})"


def _shared_with_me(permissions: str) -> str:
    return (
        "EXISTS (SELECT 1 FROM note_shares s WHERE s.note_id = notes.id"
        f" AND s.permission IN ({permissions})"
        f" AND (s.user_id = {CURRENT_USER} OR s.project_id IN {_MY_PROJECTS}))"
    )


def _notes(owner: str, runtime_role: str) -> None:
    op.create_table(
        "notes",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        _org_id(),
        sa.Column("author_id", UUID(as_uuid=True), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text, nullable=False, server_default=""),
        sa.Column("project_id", UUID(as_uuid=True)),
        sa.Column("client_id", UUID(as_uuid=True)),
        sa.Column("pinned", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column(
            "search",
            TSVECTOR,
            sa.Computed(SEARCH_EXPRESSION, persisted=True),
        ),
        _ts("created_at"),
        _ts("updated_at"),
        sa.UniqueConstraint("org_id", "id", name="uq_notes_org_id_id"),
        sa.UniqueConstraint("org_id", "id", "author_id", name="uq_notes_org_id_id_author_id"),
        sa.ForeignKeyConstraint(
            ["org_id", "author_id"],
            ["memberships.org_id", "memberships.user_id"],
            ondelete="CASCADE",
            name="fk_notes_author",
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "project_id"], ["projects.org_id", "projects.id"], ondelete="CASCADE", name="fk_notes_project"
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "client_id"], ["clients.org_id", "clients.id"], ondelete="RESTRICT", name="fk_notes_client"
        ),
    )
    op.create_index("ix_notes_org_author", "notes", ["org_id", "author_id"])
    op.create_index("ix_notes_search", "notes", ["search"], postgresql_using="gin")
    op.create_table(
        "note_shares",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        _org_id(),
        sa.Column("note_id", UUID(as_uuid=True), nullable=False),
        sa.Column("note_author_id", UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", UUID(as_uuid=True)),
        sa.Column("project_id", UUID(as_uuid=True)),
        sa.Column("permission", sa.String(8), nullable=False),
        _ts("created_at"),
        # Includes the author, so a share row cannot lie about whose note it is (the policy trusts it).
        sa.ForeignKeyConstraint(
            ["org_id", "note_id", "note_author_id"],
            ["notes.org_id", "notes.id", "notes.author_id"],
            ondelete="CASCADE",
            name="fk_note_shares_note",
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "user_id"],
            ["memberships.org_id", "memberships.user_id"],
            ondelete="CASCADE",
            name="fk_note_shares_user",
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "project_id"],
            ["projects.org_id", "projects.id"],
            ondelete="CASCADE",
            name="fk_note_shares_project",
        ),
        sa.UniqueConstraint("note_id", "user_id", name="uq_note_shares_note_id_user_id"),
        sa.UniqueConstraint("note_id", "project_id", name="uq_note_shares_note_id_project_id"),
        sa.CheckConstraint("(user_id IS NULL) <> (project_id IS NULL)", name="one_target"),
        sa.CheckConstraint("permission IN ('view', 'edit')", name="permission"),
    )
    op.create_index("ix_note_shares_org_user", "note_shares", ["org_id", "user_id"])
    op.create_index("ix_note_shares_org_project", "note_shares", ["org_id", "project_id"])

    # Notes: the author, and whoever a share reaches (a member, or a holder of a role in a project).
    # Being an org admin or auditor reaches nothing here: private means private.
    in_org, mine = f"org_id = {CURRENT_ORG}", f"author_id = {CURRENT_USER}"
    readers, editors = _shared_with_me("'view', 'edit'"), _shared_with_me("'edit'")
    statements = command_rls(
        "notes",
        select=f"{in_org} AND ({mine} OR {readers})",
        insert=f"{in_org} AND {mine}",
        update=f"{in_org} AND ({mine} OR {editors})",
        update_check=in_org,
        delete=f"{in_org} AND {mine}",
        maintenance_role=owner,
    )
    # Shares: seen by the note's author and by those they reach; written by the note's author only.
    # This policy never reads notes (Postgres refuses policies that recurse: notes' reads this table).
    reached = f"(user_id = {CURRENT_USER} OR project_id IN {_MY_PROJECTS})"
    authored = f"note_author_id = {CURRENT_USER}"
    statements += command_rls(
        "note_shares",
        select=f"{in_org} AND ({authored} OR {reached})",
        # The foreign key (org_id, note_id, note_author_id) proves note_author_id is the note's author.
        insert=f"{in_org} AND {authored}",
        update=f"{in_org} AND {authored}",
        delete=f"{in_org} AND {authored}",
        maintenance_role=owner,
    )
    for statement in statements:
        op.execute(statement)
    for table in ("notes", "note_shares"):
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {runtime_role}")


def _events(owner: str, runtime_role: str) -> None:
    op.create_table(
        "events",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        _org_id(),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("location", sa.String(300)),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("all_day", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("rrule", sa.String(500)),
        sa.Column("project_id", UUID(as_uuid=True)),
        _users_fk("created_by"),
        _ts("created_at"),
        _ts("updated_at"),
        sa.UniqueConstraint("org_id", "id", name="uq_events_org_id_id"),
        sa.ForeignKeyConstraint(
            ["org_id", "project_id"], ["projects.org_id", "projects.id"], ondelete="CASCADE", name="fk_events_project"
        ),
        sa.CheckConstraint("ends_at >= starts_at", name="ends_after_start"),
    )
    op.create_index("ix_events_org_starts", "events", ["org_id", "starts_at"])
    op.create_table(
        "event_attendees",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("rsvp", sa.String(16), nullable=False),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("event_id", "user_id", name="pk_event_attendees"),
        sa.ForeignKeyConstraint(
            ["org_id", "event_id"], ["events.org_id", "events.id"], ondelete="CASCADE", name="fk_event_attendees_event"
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "user_id"],
            ["memberships.org_id", "memberships.user_id"],
            ondelete="CASCADE",
            name="fk_event_attendees_membership",
        ),
        sa.CheckConstraint("rsvp IN ('pending', 'accepted', 'tentative', 'declined')", name="rsvp"),
    )
    op.create_index("ix_event_attendees_org_user", "event_attendees", ["org_id", "user_id"])
    op.create_table(
        "event_cancellations",
        sa.Column("org_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("occurrence_start", sa.DateTime(timezone=True), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("event_id", "occurrence_start", name="pk_event_cancellations"),
        sa.ForeignKeyConstraint(
            ["org_id", "event_id"],
            ["events.org_id", "events.id"],
            ondelete="CASCADE",
            name="fk_event_cancellations_event",
        ),
    )
    for table in ("events", "event_attendees", "event_cancellations"):
        _tenant_table(owner, runtime_role, table)


def _decisions(owner: str, runtime_role: str) -> None:
    op.create_table(
        "decisions",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        _org_id(),
        sa.Column("project_id", UUID(as_uuid=True)),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("context", sa.Text, nullable=False, server_default=""),
        sa.Column("decision", sa.Text, nullable=False, server_default=""),
        sa.Column("status", sa.String(16), nullable=False),
        _ts("decided_at", nullable=True),
        _users_fk("decided_by"),
        sa.Column("superseded_by_id", UUID(as_uuid=True)),
        _users_fk("created_by"),
        _ts("created_at"),
        _ts("updated_at"),
        sa.UniqueConstraint("org_id", "id", name="uq_decisions_org_id_id"),
        sa.ForeignKeyConstraint(
            ["org_id", "project_id"],
            ["projects.org_id", "projects.id"],
            ondelete="CASCADE",
            name="fk_decisions_project",
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "superseded_by_id"],
            ["decisions.org_id", "decisions.id"],
            ondelete="RESTRICT",
            name="fk_decisions_superseded_by",
        ),
        sa.CheckConstraint("status IN ('proposed', 'accepted', 'superseded', 'rejected')", name="status"),
        sa.CheckConstraint("(status = 'proposed') = (decided_at IS NULL)", name="decided"),
        sa.CheckConstraint("(status = 'superseded') = (superseded_by_id IS NOT NULL)", name="superseded"),
    )
    op.create_index("ix_decisions_org_project", "decisions", ["org_id", "project_id"])
    _tenant_table(owner, runtime_role, "decisions")


def upgrade(runtime_role: str) -> None:
    owner = op.get_bind().execute(sa.text("SELECT current_user")).scalar_one()
    _clients_and_projects(owner, runtime_role)
    _tasks(owner, runtime_role)
    _notes(owner, runtime_role)
    _events(owner, runtime_role)
    _decisions(owner, runtime_role)


_PROJECT_COLUMNS = [
    "key", "client_id", "status", "priority", "color", "tags", "start_date", "due_date", "estimate_hours",
    "budget_kind", "budget_period", "budget_amount", "currency", "billable", "hourly_rate", "fixed_fee", "task_seq",
]  # fmt: skip


def downgrade(runtime_role: str) -> None:
    # These policies read note_shares, so they go before the table does.
    op.execute("DROP POLICY notes_select ON notes")
    op.execute("DROP POLICY notes_update ON notes")
    for table in (
        "decisions",
        "event_cancellations",
        "event_attendees",
        "events",
        "note_shares",
        "notes",
        "task_attachments",
        "task_comments",
        "task_assignees",
        "tasks",
    ):
        op.execute(f"REVOKE ALL ON {table} FROM {runtime_role}")
        op.drop_table(table)
    op.drop_index("ix_projects_tags", "projects")
    op.drop_index("ix_projects_org_client", "projects")
    op.drop_constraint("fk_projects_org_id_client_id_clients", "projects", type_="foreignkey")
    op.drop_constraint("uq_projects_org_id_key", "projects", type_="unique")
    for column in _PROJECT_COLUMNS:  # their CHECK constraints go with them
        op.drop_column("projects", column)
    for table in ("clients",):
        op.execute(f"REVOKE ALL ON {table} FROM {runtime_role}")
        op.drop_table(table)
