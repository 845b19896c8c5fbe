"""Calendar events get a status and a privacy; a private event's details are hidden in Postgres.

- ``events.status``: ``confirmed`` (the default), ``tentative`` or ``cancelled`` (a cancelled event stays
  in the calendar, shown as cancelled).
- ``events.privacy``: ``public`` (the default: every member reads it, as before) or ``private``.
- A private event's row is readable only by its creator and its attendees (row-level security, like
  notes in 0005): for everyone else ``SELECT ... FROM events`` does not return it, so its title,
  description and location cannot be read, even with raw SQL under the runtime role. Its attendee rows
  are hidden the same way. Others see it as *busy* through ``app_event_busy(from, to, id)`` (SECURITY
  DEFINER), which returns only when it happens (start, end, all day, rule, zone), its status and who
  created it, never its title, description, location, project or attendees.
- ``event_attendees.event_privacy`` repeats the event's privacy, pinned by a foreign key to
  ``events (org_id, id, privacy)`` with ``ON UPDATE CASCADE``, so the attendees' policy need not read
  ``events`` (whose policy reads the attendees: Postgres refuses policies that recurse).
- ``app_my_private_events()`` (SECURITY DEFINER, the owner's maintenance read): the private events of
  the current organization the current person created or is invited to. Both tables' policies use it.
- ``app_due_event_reminders(now, since)``: the reminder evaluator binds no person, so it cannot read
  private events any more; this function gives it, for the bound organization and only while no person
  is bound, the due reminders of every event to its attendees (who may read them) that did not decline.

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-07
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from backend.core.rls import CURRENT_ORG, CURRENT_USER, command_rls, tenant_rls
from backend.tenancy.roles import sql_check


# The values as of this revision (backend/events/models.py: EventStatus, Privacy).
class EventStatus(enum.StrEnum):
    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"
    CANCELLED = "cancelled"


class Privacy(enum.StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


revision: str = "0039"
down_revision: str | None = "0038"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MY_PRIVATE_EVENTS = """
CREATE FUNCTION app_my_private_events() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT e.id FROM events e
     WHERE e.org_id = app_current_org() AND e.privacy = 'private' AND e.created_by = app_current_user()
    UNION
    SELECT a.event_id FROM event_attendees a
     WHERE a.org_id = app_current_org() AND a.event_privacy = 'private' AND a.user_id = app_current_user()
$$
"""

# Private events of the current organization the current person may not read, as busy time only.
BUSY = """
CREATE FUNCTION app_event_busy(p_from timestamptz, p_to timestamptz, p_id uuid)
RETURNS TABLE (
    id uuid,
    starts_at timestamptz,
    ends_at timestamptz,
    all_day boolean,
    rrule varchar,
    timezone varchar,
    status varchar,
    created_by uuid,
    created_at timestamptz,
    updated_at timestamptz
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT e.id, e.starts_at, e.ends_at, e.all_day, e.rrule, e.timezone, e.status, e.created_by,
           e.created_at, e.updated_at
      FROM events e
     WHERE e.org_id = app_current_org()
       AND e.privacy = 'private'
       AND e.id NOT IN (SELECT app_my_private_events())
       AND (p_id IS NULL OR e.id = p_id)
       AND (p_to IS NULL OR e.starts_at < p_to)
       AND (p_from IS NULL OR e.rrule IS NOT NULL OR e.ends_at > p_from)
$$
"""

DUE_REMINDERS = """
CREATE FUNCTION app_due_event_reminders(p_now timestamptz, p_since timestamptz)
RETURNS TABLE (
    id uuid,
    title varchar,
    starts_at timestamptz,
    location varchar,
    reminder_at timestamptz,
    user_id uuid
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT e.id, e.title, e.starts_at, e.location, e.reminder_at, a.user_id
      FROM events e
      JOIN event_attendees a ON a.org_id = e.org_id AND a.event_id = e.id
     WHERE app_current_user() IS NULL
       AND e.org_id = app_current_org()
       AND e.reminder_at <= p_now AND e.reminder_at > p_since
       AND e.status <> 'cancelled'
       AND a.rsvp <> 'declined'
$$
"""

SIGNATURES = (
    "app_my_private_events()",
    "app_event_busy(timestamptz, timestamptz, uuid)",
    "app_due_event_reminders(timestamptz, timestamptz)",
)


def upgrade(runtime_role: str) -> None:
    op.add_column("events", sa.Column("status", sa.String(16), nullable=False, server_default="confirmed"))
    op.add_column("events", sa.Column("privacy", sa.String(16), nullable=False, server_default="public"))
    op.create_check_constraint(op.f("ck_events_status"), "events", sql_check("status", EventStatus))
    op.create_check_constraint(op.f("ck_events_privacy"), "events", sql_check("privacy", Privacy))
    op.create_unique_constraint(op.f("uq_events_org_id_id_privacy"), "events", ["org_id", "id", "privacy"])
    op.create_index(op.f("ix_events_org_status"), "events", ["org_id", "status"])
    op.add_column("event_attendees", sa.Column("event_privacy", sa.String(16), nullable=False, server_default="public"))
    op.create_foreign_key(
        op.f("fk_event_attendees_event_privacy"),
        "event_attendees",
        "events",
        ["org_id", "event_id", "event_privacy"],
        ["org_id", "id", "privacy"],
        ondelete="CASCADE",
        onupdate="CASCADE",
    )
    for statement in (MY_PRIVATE_EVENTS, BUSY, DUE_REMINDERS):
        op.execute(statement)
    for signature in SIGNATURES:
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {runtime_role}")

    # One policy per command instead of 0005's tenant_isolation (maintenance_read and offboarding_purge
    # stay). Being an org admin or auditor reaches nothing private here: private means private.
    in_org, me = f"org_id = {CURRENT_ORG}", CURRENT_USER
    reachable = "(SELECT app_my_private_events())"
    op.execute("DROP POLICY tenant_isolation ON events")
    op.execute("DROP POLICY tenant_isolation ON event_attendees")
    visible = f"{in_org} AND (privacy = 'public' OR id IN {reachable})"
    writable = f"{in_org} AND (privacy = 'public' OR created_by = {me})"
    for statement in command_rls("events", select=visible, insert=writable, update=writable, delete=writable):
        op.execute(statement)
    attendee_visible = f"{in_org} AND (event_privacy = 'public' OR event_id IN {reachable})"
    # Of a private event, only its creator adds or removes attendees; an attendee changes their own row (RSVP).
    created_by_me = f"(SELECT e.id FROM events e WHERE e.created_by = {me})"
    attendee_managed = f"{in_org} AND (event_privacy = 'public' OR event_id IN {created_by_me})"
    attendee_update = f"{in_org} AND (event_privacy = 'public' OR user_id = {me} OR event_id IN {created_by_me})"
    for statement in command_rls(
        "event_attendees",
        select=attendee_visible,
        insert=attendee_managed,
        update=attendee_update,
        delete=attendee_managed,
    ):
        op.execute(statement)


def downgrade(runtime_role: str) -> None:  # noqa: ARG001  (the signature env.py calls)
    for table in ("events", "event_attendees"):
        for command in ("select", "insert", "update", "delete"):
            op.execute(f"DROP POLICY IF EXISTS {table}_{command} ON {table}")
        # tenant_rls re-enables RLS (already on) and recreates 0005's policy; its maintenance_read stayed.
        for statement in tenant_rls(table):
            op.execute(statement)
    for signature in SIGNATURES:
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    op.drop_constraint(op.f("fk_event_attendees_event_privacy"), "event_attendees", type_="foreignkey")
    op.drop_column("event_attendees", "event_privacy")
    op.drop_index(op.f("ix_events_org_status"), table_name="events")
    op.drop_constraint(op.f("uq_events_org_id_id_privacy"), "events", type_="unique")
    op.drop_constraint(op.f("ck_events_privacy"), "events", type_="check")
    op.drop_constraint(op.f("ck_events_status"), "events", type_="check")
    op.drop_column("events", "privacy")
    op.drop_column("events", "status")
