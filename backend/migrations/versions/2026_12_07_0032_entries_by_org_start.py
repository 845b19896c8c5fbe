"""Time entries by (organization, start): the index behind every organization-wide date range.

The dashboard's week, the org-month time report, the timesheet report and productivity read every
entry of an organization that starts in a range, whoever logged it. The existing indexes lead with the
person or the project after the organization, so those reads scanned all of an organization's entries
(the dashboard timed out at 1,000,000 in ``make bench``).

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade(runtime_role: str) -> None:  # noqa: ARG001
    op.create_index("ix_time_entries_org_id_start_at", "time_entries", ["org_id", "start_at"])


def downgrade(runtime_role: str) -> None:  # noqa: ARG001
    op.drop_index("ix_time_entries_org_id_start_at", table_name="time_entries")
