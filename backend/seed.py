"""Demo data for development: the organizations and memberships of the demo users.

The demo users themselves live in Keycloak's development overlay (keycloak/realm.dev.json) with fixed
ids; this reads the same file so the two can never disagree. Running it twice changes nothing.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from backend.core import audit
from backend.core.db import Database
from backend.settings import Settings
from backend.tenancy.models import Membership, Organization, Project, ProjectMembership, User
from backend.tracking.models import (
    MemberTimeZone,
    TimeEntry,
    TimeEntryCorrection,
    TimeRate,
    TimeSettings,
    Timesheet,
    TimeTag,
)

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
        acme = next((org for org in organizations if org["slug"] == "acme"), None)
        if acme is not None:
            await seed_time(db, demo_org_id("acme"), {u["username"]: uuid.UUID(u["id"]) for u in users})
    finally:
        await db.dispose()


# --- time tracking demo: three weeks of acme's work, one week submitted and one approved -------------

DEMO_WEEKS = [date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16)]  # ISO weeks 45, 46, 47
DEMO_PROJECTS = {"Website Relaunch": {"carol": "lead", "dave": "contributor"}, "Mobile App": {"dave": "contributor"}}
# (person, project, description, local start hour:minute, minutes, tags); each weekday, per person
DEMO_DAY = [
    ("alice", "Mobile App", "Roadmap and stakeholder sync", (9, 0), 90, ["meeting"]),
    ("alice", "Website Relaunch", "Review launch plan", (14, 0), 60, ["review"]),
    ("bob", "Mobile App", "API integration", (8, 30), 210, ["dev"]),
    ("bob", "Website Relaunch", "Deploy pipeline", (13, 0), 150, ["ops"]),
    ("carol", "Website Relaunch", "Sprint planning and reviews", (9, 0), 120, ["meeting"]),
    ("carol", "Website Relaunch", "Content migration", (13, 30), 180, ["content"]),
    ("dave", "Website Relaunch", "Homepage components", (9, 15), 165, ["dev", "frontend"]),
    ("dave", "Mobile App", "Bug fixes", (13, 0), 200, ["dev"]),
]
DEMO_ZONES = {"dave": "Europe/Berlin", "carol": "Europe/Berlin"}


def _demo_id(*parts: object) -> uuid.UUID:
    return uuid.uuid5(DEMO_NAMESPACE, ":".join(str(part) for part in parts))


async def seed_time(db: Database, org_id: uuid.UUID, people: dict[str, uuid.UUID]) -> None:
    """Projects, rates, zones and entries for alice, bob, carol and dave; dave's week 46 approved by
    carol (with one correction) and week 47 submitted. Fixed ids: running it again adds nothing."""
    async with db.unit_of_work(org_id=org_id) as session:
        await session.execute(
            insert(TimeSettings)
            .values(
                org_id=org_id,
                currency="EUR",
                default_rate=Decimal("80.00"),
                max_duration_minutes=24 * 60,
                max_future_minutes=24 * 60,
                prevent_overlaps=True,
            )
            .on_conflict_do_nothing()
        )
        projects: dict[str, uuid.UUID] = {}
        for name, roles in DEMO_PROJECTS.items():
            await session.execute(
                insert(Project)
                .values(id=_demo_id(org_id, "project", name), org_id=org_id, name=name)
                .on_conflict_do_nothing()
            )
            found = await session.scalar(
                select(col(Project.id)).where(col(Project.org_id) == org_id, col(Project.name) == name)
            )
            assert found is not None
            projects[name] = found
            for person, role in roles.items():
                await session.execute(
                    insert(ProjectMembership)
                    .values(org_id=org_id, project_id=found, user_id=people[person], role=role)
                    .on_conflict_do_nothing()
                )
        rates = {
            (None, projects["Mobile App"]): Decimal("95.00"),
            (people["dave"], None): Decimal("70.00"),
            (people["dave"], projects["Mobile App"]): Decimal("85.00"),
        }
        for (user_id, project_id), amount in rates.items():
            await session.execute(
                insert(TimeRate)
                .values(
                    org_id=org_id,
                    id=_demo_id(org_id, "rate", user_id, project_id),
                    user_id=user_id,
                    project_id=project_id,
                    amount=amount,
                )
                .on_conflict_do_nothing()
            )
        for person, zone in DEMO_ZONES.items():
            await session.execute(
                insert(MemberTimeZone)
                .values(org_id=org_id, user_id=people[person], time_zone=zone)
                .on_conflict_do_nothing()
            )
        tags = sorted({tag for *_, day_tags in DEMO_DAY for tag in day_tags})
        await session.execute(
            insert(TimeTag).values([{"org_id": org_id, "name": tag} for tag in tags]).on_conflict_do_nothing()
        )

        def rate(person: str, project: str) -> Decimal:
            user_id, project_id = people[person], projects[project]
            for key in ((user_id, project_id), (None, project_id), (user_id, None)):
                if key in rates:
                    return rates[key]
            return Decimal("80.00")

        rows: list[dict[str, Any]] = []
        for week in DEMO_WEEKS:
            for day in range(5):
                for person, project, description, (hour, minute), minutes, day_tags in DEMO_DAY:
                    local = ZoneInfo(DEMO_ZONES.get(person, "UTC"))
                    start = datetime.combine(week + timedelta(days=day), datetime.min.time(), tzinfo=local)
                    start += timedelta(hours=hour, minutes=minute + 7 * day % 20)
                    rows.append(
                        {
                            "org_id": org_id,
                            "id": _demo_id(org_id, "entry", person, start.isoformat()),
                            "user_id": people[person],
                            "project_id": projects[project],
                            "description": description,
                            "start_at": start,
                            "end_at": start + timedelta(minutes=minutes),
                            "duration_seconds": minutes * 60,
                            "billable": "meeting" not in day_tags,
                            "tags": day_tags,
                            "rate": rate(person, project),
                            "currency": "EUR",
                            "no_overlap": True,
                            "source": "manual",
                            "created_by": people[person],
                        }
                    )
        added = (
            await session.scalars(insert(TimeEntry).values(rows).on_conflict_do_nothing().returning(col(TimeEntry.id)))
        ).all()
        dave = people["dave"]
        sheets = [
            (DEMO_WEEKS[1], "approved", people["carol"]),
            (DEMO_WEEKS[2], "submitted", None),
        ]
        for week, status, decided_by in sheets:
            submitted = datetime.combine(week + timedelta(days=4), datetime.min.time(), tzinfo=ZoneInfo("UTC"))
            await session.execute(
                insert(Timesheet)
                .values(
                    org_id=org_id,
                    id=_demo_id(org_id, "timesheet", dave, week),
                    user_id=dave,
                    week_start=week,
                    time_zone=DEMO_ZONES["dave"],
                    status=status,
                    submitted_at=submitted + timedelta(hours=17),
                    decided_by=decided_by,
                    decided_at=submitted + timedelta(days=3) if decided_by else None,
                )
                .on_conflict_do_nothing()
            )
        corrected = next(row for row in rows if row["user_id"] == dave and row["start_at"].date() >= DEMO_WEEKS[1])
        await session.execute(
            insert(TimeEntryCorrection)
            .values(
                org_id=org_id,
                id=_demo_id(org_id, "correction", corrected["id"]),
                entry_id=corrected["id"],
                duration_delta_seconds=30 * 60,
                reason="Forgot the stand-up before the approved week was locked in",
                created_by=people["carol"],
            )
            .on_conflict_do_nothing()
        )
        if added:
            await audit.record(
                session,
                org_id=org_id,
                actor=None,
                action="time_tracking.seeded",
                resource_type="time_entry",
                resource_id=org_id,
                after={"entries": len(added), "weeks": [str(week) for week in DEMO_WEEKS]},
            )
    log.info("seeded_time_tracking", org_id=str(org_id))
