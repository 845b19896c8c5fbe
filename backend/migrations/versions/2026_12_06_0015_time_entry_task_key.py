"""A time entry's task belongs to the entry's project: ``(org_id, project_id, task_id)`` references
``tasks (org_id, project_id, id)``.

Before this, ``time_entries.task_id`` had no key at all: an entry could name a task of another project,
of another organization, or none that exists. Entries that do are kept and lose only the task reference
(the count is printed); nothing else about them changes.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from alembic.util import msg

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TASKS_KEY = "uq_tasks_org_id_project_id_id"
ENTRY_TASK_FK = "fk_time_entries_org_id_project_id_task_id_tasks"


def upgrade(runtime_role: str) -> None:  # noqa: ARG001  (the signature env.py calls)
    orphaned = op.get_bind().execute(
        sa.text(
            "UPDATE time_entries AS e SET task_id = NULL WHERE task_id IS NOT NULL AND NOT EXISTS ("
            " SELECT 1 FROM tasks AS t WHERE t.org_id = e.org_id AND t.project_id = e.project_id AND t.id = e.task_id)"
        )
    )
    if orphaned.rowcount:
        msg(f"{orphaned.rowcount} time entries named a task outside their project; task_id cleared")
    op.create_unique_constraint(TASKS_KEY, "tasks", ["org_id", "project_id", "id"])
    op.create_foreign_key(
        ENTRY_TASK_FK, "time_entries", "tasks", ["org_id", "project_id", "task_id"], ["org_id", "project_id", "id"]
    )
    op.create_index("ix_time_entries_org_id_task_id", "time_entries", ["org_id", "task_id"])


def downgrade(runtime_role: str) -> None:  # noqa: ARG001
    op.drop_index("ix_time_entries_org_id_task_id", table_name="time_entries")
    op.drop_constraint(ENTRY_TASK_FK, "time_entries", type_="foreignkey")
    op.drop_constraint(TASKS_KEY, "tasks", type_="unique")
