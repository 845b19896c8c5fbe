"""Item reminders: tasks and calendar events carry an optional ``reminder_at``, delivered once.

``tasks.reminder_at`` (to the assignees) and ``events.reminder_at`` (to the attendees; before the start)
are timestamps with a time zone. The evaluator delivers each as a ``notifications`` row whose
``item_key`` names the item (``task:<id>`` / ``event:<id>``) and whose ``period`` is the reminder time;
a partial unique index on (organization, item, person, period) makes a second look insert nothing. Such
rows have no rule, so ``rule_id`` becomes nullable (a row has a rule or an item, checked).

(The file carries the number given for issue 18; scheduled exports are not in it yet.)

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade(runtime_role: str) -> None:  # noqa: ARG001
    op.add_column("tasks", sa.Column("reminder_at", sa.DateTime(timezone=True)))
    op.add_column("events", sa.Column("reminder_at", sa.DateTime(timezone=True)))
    op.create_index(
        "ix_tasks_org_reminder_at",
        "tasks",
        ["org_id", "reminder_at"],
        postgresql_where=sa.text("reminder_at IS NOT NULL"),
    )
    op.create_index(
        "ix_events_org_reminder_at",
        "events",
        ["org_id", "reminder_at"],
        postgresql_where=sa.text("reminder_at IS NOT NULL"),
    )
    op.alter_column("notifications", "rule_id", nullable=True)
    op.add_column("notifications", sa.Column("item_key", sa.String(80)))
    op.execute(
        "ALTER TABLE notifications ADD CONSTRAINT ck_notifications_rule_or_item"
        " CHECK ((rule_id IS NULL) <> (item_key IS NULL))"
    )
    op.create_index(
        "uq_notifications_item_once",
        "notifications",
        ["org_id", "item_key", "user_id", "period"],
        unique=True,
        postgresql_where=sa.text("item_key IS NOT NULL"),
    )


def downgrade(runtime_role: str) -> None:  # noqa: ARG001
    op.drop_index("uq_notifications_item_once", table_name="notifications")
    op.execute("ALTER TABLE notifications DROP CONSTRAINT ck_notifications_rule_or_item")
    op.execute("DELETE FROM notifications WHERE rule_id IS NULL")
    op.drop_column("notifications", "item_key")
    op.alter_column("notifications", "rule_id", nullable=False)
    op.drop_index("ix_events_org_reminder_at", table_name="events")
    op.drop_index("ix_tasks_org_reminder_at", table_name="tasks")
    op.drop_column("events", "reminder_at")
    op.drop_column("tasks", "reminder_at")
