"""Demo data for development: the organizations and memberships of the demo users.

The demo users themselves live in Keycloak's development overlay (keycloak/realm.dev.json) with fixed
ids; this reads the same file so the two can never disagree. Running it twice changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from backend.core import audit
from backend.core.db import Database
from backend.core.storage import create_storage
from backend.decisions.models import Decision
from backend.events.models import Event, EventAttendee, EventCancellation
from backend.notes.models import Note, NoteShare
from backend.settings import Settings
from backend.tenancy.models import Client, Membership, Organization, Project, ProjectMembership, User
from backend.work.models import Attachment, Comment, Task, TaskAssignee

REALM_DEV = Path(__file__).resolve().parent.parent / "keycloak" / "realm.dev.json"
DEMO_NAMESPACE = uuid.UUID("5b0f6a52-3b8e-4c55-9a57-4f1d2b9c7e10")

log = structlog.get_logger(__name__)


def demo_org_id(slug: str) -> uuid.UUID:
    return uuid.uuid5(DEMO_NAMESPACE, slug)


def load_demo(path: Path = REALM_DEV) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    realm = json.loads(path.read_text())
    return realm.get("_demoOrganizations", []), [u for u in realm.get("users", []) if "attributes" in u]


async def seed(settings: Settings) -> None:
    organizations, users = load_demo()
    db = Database(settings, pool_size=2)
    try:
        for org in organizations:
            org_id = demo_org_id(org["slug"])
            async with db.unit_of_work(org_id=org_id) as session:
                created = await session.scalar(
                    insert(Organization)
                    .values(id=org_id, slug=org["slug"], name=org["name"])
                    .on_conflict_do_nothing()
                    .returning(col(Organization.id))
                )
                if created:
                    await audit.record(
                        session,
                        org_id=org_id,
                        actor=None,
                        action="organization.created",
                        resource_type="organization",
                        resource_id=org_id,
                        after={"slug": org["slug"], "name": org["name"]},
                    )
                for person in users:
                    if person["attributes"].get("demo_org", [None])[0] != org["slug"]:
                        continue
                    user_id = uuid.UUID(person["id"])
                    role = person["attributes"]["demo_role"][0]
                    await session.execute(
                        insert(User)
                        .values(
                            id=user_id,
                            username=person["username"],
                            email=person["email"],
                            display_name=f"{person['firstName']} {person['lastName']}",
                        )
                        .on_conflict_do_nothing()
                    )
                    added = await session.scalar(
                        insert(Membership)
                        .values(org_id=org_id, user_id=user_id, role=role)
                        .on_conflict_do_nothing()
                        .returning(col(Membership.user_id))
                    )
                    if added:
                        await audit.record(
                            session,
                            org_id=org_id,
                            actor=None,
                            action="membership.created",
                            resource_type="membership",
                            resource_id=user_id,
                            after={"role": role},
                        )
            log.info("seeded_organization", slug=org["slug"], org_id=str(org_id))
        acme = demo_org_id("acme")
        people = {person["username"]: uuid.UUID(person["id"]) for person in users}
        if {"alice", "carol", "dave"} <= set(people) and any(o["slug"] == "acme" for o in organizations):
            await seed_work(db, settings, acme, people)
    finally:
        await db.dispose()


def _id(name: str) -> uuid.UUID:
    return uuid.uuid5(DEMO_NAMESPACE, name)


async def seed_work(db: Database, settings: Settings, org_id: uuid.UUID, people: dict[str, uuid.UUID]) -> None:
    """acme's demo work: clients, projects with keys and budgets, tasks with assignees, comments, an
    attachment, shared notes, a recurring event and decisions. Fixed ids: a second run adds nothing."""
    alice, carol, dave = people["alice"], people["carol"], people["dave"]
    async with db.unit_of_work(org_id=org_id, user_id=alice) as session:
        if await session.get(Project, _id("project:web")) is not None:
            return
        initech = Client(
            id=_id("client:initech"),
            org_id=org_id,
            name="Initech",
            contact_name="Bill Lumbergh",
            contact_email="bill@initech.test",
            notes="Wants TPS reports on every release.",
        )
        umbrella = Client(id=_id("client:umbrella"), org_id=org_id, name="Umbrella Ltd")
        session.add_all([initech, umbrella])
        await session.flush()
        web = Project(
            id=_id("project:web"),
            org_id=org_id,
            name="Website relaunch",
            key="WEB",
            description="The new public website.",
            client_id=initech.id,
            status="active",
            priority="high",
            color="#3366cc",
            tags=["web", "design"],
            start_date=date(2026, 11, 1),
            due_date=date(2027, 3, 31),
            estimate_hours=Decimal("320"),
            budget_kind="money",
            budget_period="monthly",
            budget_amount=Decimal("8000"),
            currency="EUR",
            hourly_rate=Decimal("95"),
            task_seq=3,
        )
        app = Project(
            id=_id("project:app"),
            org_id=org_id,
            name="Mobile app",
            key="APP",
            client_id=umbrella.id,
            status="planned",
            tags=["mobile"],
            budget_kind="hours",
            budget_period="total",
            budget_amount=Decimal("400"),
            fixed_fee=Decimal("30000"),
            currency="EUR",
        )
        session.add_all([web, app])
        await session.flush()
        session.add_all(
            [
                ProjectMembership(org_id=org_id, project_id=web.id, user_id=carol, role="lead"),
                ProjectMembership(org_id=org_id, project_id=web.id, user_id=dave, role="contributor"),
                ProjectMembership(org_id=org_id, project_id=app.id, user_id=carol, role="lead"),
            ]
        )
        now = datetime.now(UTC)
        tasks = [
            Task(id=_id("task:web-1"), org_id=org_id, project_id=web.id, number=1, title="Sitemap and page list",
                 status="done", completed_at=now, priority="high", created_by=carol, labels=["planning"]),
            Task(id=_id("task:web-2"), org_id=org_id, project_id=web.id, number=2, title="Home page design",
                 description="Hero, three feature blocks, **clear call to action**.", status="in_progress",
                 due_date=date(2026, 12, 15), estimate_hours=Decimal("16"), created_by=carol, labels=["design"]),
            Task(id=_id("task:web-3"), org_id=org_id, project_id=web.id, number=3, title="Contact form",
                 due_date=date(2027, 1, 10), created_by=carol, labels=["frontend"]),
        ]  # fmt: skip
        session.add_all(tasks)
        await session.flush()
        session.add_all(
            [
                TaskAssignee(org_id=org_id, task_id=tasks[1].id, user_id=dave),
                TaskAssignee(org_id=org_id, task_id=tasks[1].id, user_id=carol),
                TaskAssignee(org_id=org_id, task_id=tasks[2].id, user_id=dave),
            ]
        )
        comment = Comment(
            id=_id("comment:web-2"), org_id=org_id, task_id=tasks[1].id, author_id=dave,
            body="First draft is in the shared folder; feedback welcome.",
        )  # fmt: skip
        session.add(comment)
        await session.flush()
        content = b"Worktime demo attachment: the home page brief.\n"
        storage = create_storage(settings)
        key = f"{org_id}/{_id('attachment:web-2')}"
        with storage.scratch() as scratch:
            scratch.write(content)
        await storage.put(key, scratch.name)
        session.add(
            Attachment(
                id=_id("attachment:web-2"), org_id=org_id, task_id=tasks[1].id, comment_id=comment.id,
                filename="brief.txt", content_type="text/plain", size_bytes=len(content),
                sha256=hashlib.sha256(content).hexdigest(), storage_key=key, uploaded_by=dave,
            )
        )  # fmt: skip
        note = Note(
            id=_id("note:kickoff"), org_id=org_id, author_id=alice, title="Relaunch kickoff",
            body="- Launch before the spring campaign\n- Carol leads, Dave builds", project_id=web.id, pinned=True,
        )  # fmt: skip
        private = Note(id=_id("note:private"), org_id=org_id, author_id=alice, title="Pricing ideas (private)",
                       body="Only alice sees this.", client_id=initech.id)  # fmt: skip
        session.add_all([note, private])
        await session.flush()
        session.add_all(
            [
                NoteShare(org_id=org_id, note_id=note.id, note_author_id=alice, project_id=web.id, permission="view"),
                NoteShare(org_id=org_id, note_id=note.id, note_author_id=alice, user_id=carol, permission="edit"),
            ]
        )
        await session.flush()
        standup = Event(
            id=_id("event:standup"), org_id=org_id, title="WEB standup", location="Room 1 / video",
            starts_at=datetime(2026, 11, 30, 9, 0, tzinfo=UTC), ends_at=datetime(2026, 11, 30, 9, 15, tzinfo=UTC),
            rrule="FREQ=WEEKLY;BYDAY=MO,WE,FR", project_id=web.id, created_by=carol,
        )  # fmt: skip
        session.add(standup)
        await session.flush()
        session.add_all(
            [
                EventAttendee(org_id=org_id, event_id=standup.id, user_id=carol, rsvp="accepted"),
                EventAttendee(org_id=org_id, event_id=standup.id, user_id=dave, rsvp="pending"),
                EventCancellation(
                    org_id=org_id, event_id=standup.id, occurrence_start=datetime(2026, 12, 25, 9, 0, tzinfo=UTC)
                ),
            ]
        )
        await session.flush()
        first = Decision(
            id=_id("decision:cms"), org_id=org_id, project_id=web.id, title="Use a headless CMS",
            context="Marketing edits pages weekly.", decision="Adopt a headless CMS; render statically.",
            status="superseded", decided_at=now, decided_by=carol, created_by=carol,
        )  # fmt: skip
        second = Decision(
            id=_id("decision:cms2"), org_id=org_id, project_id=web.id, title="Keep pages in the repository",
            context="The CMS trial was slow to edit.", decision="Markdown in the repository, previews per branch.",
            status="accepted", decided_at=now, decided_by=carol, created_by=dave,
        )  # fmt: skip
        proposal = Decision(
            id=_id("decision:hours"), org_id=org_id, title="Core hours 10-16",
            context="Teams span two time zones.", created_by=alice,
        )  # fmt: skip
        session.add_all([second, proposal])
        await session.flush()
        first.superseded_by_id = second.id
        session.add(first)
        await session.flush()
        await audit.record(
            session,
            org_id=org_id,
            actor=None,
            action="demo.seeded",
            resource_type="organization",
            resource_id=org_id,
            after={"clients": 2, "projects": 2, "tasks": len(tasks), "notes": 2},
        )
    log.info("seeded_work", org_id=str(org_id))
