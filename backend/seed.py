"""Demo data for development: the organizations and memberships of the demo users.

The demo users themselves live in Keycloak's development overlay (keycloak/realm.dev.json) with fixed
ids; this reads the same file so the two can never disagree. Running it twice changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.core import audit, secrets
from backend.core.db import Database, bind_tenant
from backend.core.errors import DependencyUnavailable
from backend.core.models import utcnow
from backend.core.storage import create_storage, put_in
from backend.decisions.models import Decision
from backend.events.models import Event, EventAttendee, EventCancellation
from backend.exports.models import ExportSettings
from backend.integrations import service as integrations
from backend.integrations.connectors import ICAL, IcalConfig
from backend.integrations.models import Integration
from backend.notes.models import Note, NoteShare
from backend.orgs import service as orgs
from backend.reminders.models import ExportSchedule, Notification, ReminderMute, ReminderRule
from backend.reports.models import MemberCapacity, ReportShareLink, SavedReport
from backend.reports.saved import digest as saved_report_digest
from backend.scim.models import ScimToken
from backend.scim.service import digest as scim_digest
from backend.settings import Settings
from backend.sso import connection as sso_connection
from backend.sso.keycloak import Providers, oidc_representation
from backend.sso.models import ProviderKind, SsoDomain, SsoProvider, SsoRoleMapping, SsoSettings
from backend.sso.schemas import DEFAULT_SCOPES
from backend.tenancy import mirror, tokens
from backend.tenancy.directory import Directory, admin_client
from backend.tenancy.models import Client, Membership, Organization, Project, ProjectMembership, User
from backend.tenancy.tokens import PersonalToken
from backend.tracking.models import (
    MemberTimeZone,
    TimeEntry,
    TimeEntryCorrection,
    TimeRate,
    TimeSettings,
    Timesheet,
    TimeTag,
)
from backend.webhooks import service as webhooks
from backend.webhooks.models import EndpointFormat, WebhookEndpoint
from backend.work.models import Attachment, Comment, Task, TaskAssignee
from backend.worktime.models import Absence, Holiday, HolidayCalendar, WorkContract

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
            await seed_organization(db, org, users)
            await _mirror(db, settings, demo_org_id(org["slug"]))
            await seed_reminders(db, demo_org_id(org["slug"]), [u for u in users if _demo_org(u) == org["slug"]])
            await seed_export_schedules(db, demo_org_id(org["slug"]), [u for u in users if _demo_org(u) == org["slug"]])
            await seed_scim(db, demo_org_id(org["slug"]))
            await seed_personal_tokens(db, demo_org_id(org["slug"]), [u for u in users if _demo_org(u) == org["slug"]])
            await seed_outward(db, demo_org_id(org["slug"]), [u for u in users if _demo_org(u) == org["slug"]])
            await seed_saved_reports(db, demo_org_id(org["slug"]), [u for u in users if _demo_org(u) == org["slug"]])
        if any(o["slug"] == "globex" for o in organizations):
            await seed_sso(db, demo_org_id("globex"))
            await seed_sso_provider(db, settings, demo_org_id("globex"))
            await seed_live_reminder(db, demo_org_id("globex"))
        acme = demo_org_id("acme")
        people = {person["username"]: uuid.UUID(person["id"]) for person in users}
        if {"alice", "bob", "carol", "dave"} <= set(people) and any(o["slug"] == "acme" for o in organizations):
            # Work first: time is logged on its projects (WEB and APP).
            await seed_work(db, settings, acme, people)
            await seed_time(db, acme, people)
        for org in organizations:  # last: the anchor signs the head the seed left (a rerun adds none)
            org_id = demo_org_id(org["slug"])
            async with db.unit_of_work(org_id=org_id) as session:
                await orgs.anchor_audit_head(session, org_id, reason="manual", only_if_moved=True)
    finally:
        await db.dispose()


async def _mirror(db: Database, settings: Settings, org_id: uuid.UUID) -> None:
    """Keycloak's copy of a demo organization (its Organizations feature routes SSO by it)."""
    async with db.unit_of_work(org_id=org_id) as session:
        wanted = await mirror.load(session, org_id)
    if wanted is None:
        return
    try:
        report = await Directory(admin_client(settings)).sync(wanted)
    except DependencyUnavailable:
        log.warning("seed_keycloak_mirror_failed", org_id=str(org_id))
        return
    if report.changed:
        log.info("seeded_keycloak_organization", org_id=str(org_id), changes=report.lines())


async def seed_organization(db: Database, org: dict[str, Any], users: list[dict[str, Any]]) -> None:
    """One demo organization and the memberships of its demo users, each audited when it is new."""
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
            if person["attributes"].get("demo_org", [None])[0] == org["slug"]:
                await _seed_member(session, org_id, person)
    log.info("seeded_organization", slug=org["slug"], org_id=str(org_id))


async def _seed_member(session: AsyncSession, org_id: uuid.UUID, person: dict[str, Any]) -> None:
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


def _demo_org(person: dict[str, Any]) -> str | None:
    value: str | None = person["attributes"].get("demo_org", [None])[0]
    return value


async def seed_export_schedules(db: Database, org_id: uuid.UUID, members: list[dict[str, Any]]) -> None:
    """Each demo organization's monthly timesheet export (the 1st at 08:00, to its owners), disabled so the
    demo mails nothing until someone turns it on."""
    owners = [uuid.UUID(m["id"]) for m in members if m["attributes"]["demo_role"][0] == "owner"]
    if not owners:
        return
    async with db.unit_of_work(org_id=org_id) as session:
        await session.execute(
            insert(ExportSchedule)
            .values(
                org_id=org_id,
                id=uuid.uuid5(org_id, "export-schedule:monthly-timesheet"),
                name="Last month's timesheet",
                enabled=False,
                cadence="monthly",
                day_of_month=1,
                weekday=None,
                local_time=time(8, 0),
                time_zone="Europe/Berlin",
                period="previous_month",
                kind="timesheet",
                format="csv",
                recipients=owners,
                created_by=owners[0],
                created_at=utcnow(),
                updated_at=utcnow(),
            )
            .on_conflict_do_nothing()
        )


async def seed_reminders(db: Database, org_id: uuid.UUID, members: list[dict[str, Any]]) -> None:
    """Each demo organization's reminder rule (no time logged by 17:00 on working days, disabled so the
    demo sends no mail until an admin turns it on), one read notification it sent to its first member, and
    the auditor's own mute of running-timer reminders."""
    rule_id = uuid.uuid5(org_id, "reminder:no_time_logged")
    async with db.unit_of_work(org_id=org_id) as session:
        await session.execute(
            insert(ReminderRule)
            .values(
                org_id=org_id,
                id=rule_id,
                kind="no_time_logged",
                name="Log your day",
                enabled=False,
                local_time=time(17, 0),
                weekdays=[1, 2, 3, 4, 5],
                created_at=utcnow(),
                updated_at=utcnow(),
            )
            .on_conflict_do_nothing()
        )
        # Auditors log no time: the demo's auditor has muted running-timer reminders for themselves.
        for auditor in (m for m in members if m["attributes"]["demo_role"][0] == "auditor"):
            await session.execute(
                insert(ReminderMute)
                .values(org_id=org_id, user_id=uuid.UUID(auditor["id"]), kind="timer_running", created_at=utcnow())
                .on_conflict_do_nothing()
            )
        if not members:
            return
        person = uuid.UUID(members[0]["id"])
        await bind_tenant(session, org_id=org_id, user_id=person)
        await session.execute(
            insert(Notification)
            .values(
                org_id=org_id,
                id=uuid.uuid5(org_id, f"notification:{person}"),
                user_id=person,
                rule_id=rule_id,
                kind="no_time_logged",
                period="2026-11-30",
                title="No time logged today",
                body="You have not logged any time today (Monday 30 November).",
                link=f"/orgs/{org_id}/timer",
                created_at=datetime(2026, 11, 30, 17, 0, tzinfo=UTC),
                read_at=datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
            )
            .on_conflict_do_nothing()
        )


LIVE_REMINDER = "Demo: log your day"


async def seed_live_reminder(db: Database, org_id: uuid.UUID) -> None:
    """Globex's enabled "no time logged today" rule, due from 00:00 every day: nobody logs time in globex,
    so the workers' first evaluation after ``make run`` starts mails heidi and grace (to the stack's mail
    catcher) and puts it under their bell, once per person and day (docs/reminders.md, "Seed data")."""
    async with db.unit_of_work(org_id=org_id) as session:
        await session.execute(
            insert(ReminderRule)
            .values(
                org_id=org_id,
                id=uuid.uuid5(org_id, "reminder:live-demo"),
                kind="no_time_logged",
                name=LIVE_REMINDER,
                enabled=True,
                local_time=time(0, 0),
                weekdays=[1, 2, 3, 4, 5, 6, 7],
                created_at=utcnow(),
                updated_at=utcnow(),
            )
            .on_conflict_do_nothing()
        )


async def seed_sso(db: Database, org_id: uuid.UUID) -> None:
    """Globex's claimed email domain, verified (the seed stands in for the DNS TXT check, which
    ``globex.test`` cannot pass), and its SSO settings: people who arrive through SSO join as members,
    and the demo IdP's ``eng-leads`` group (keycloak/globex-idp.json) as managers."""
    async with db.unit_of_work(org_id=org_id) as session:
        await session.execute(
            insert(SsoDomain)
            .values(
                org_id=org_id,
                domain="globex.test",
                verification_token=hashlib.sha256(f"{org_id}:globex.test".encode()).hexdigest()[:32],
                verified_at=utcnow(),
            )
            .on_conflict_do_nothing()
        )
        await session.execute(insert(SsoSettings).values(org_id=org_id).on_conflict_do_nothing())
        await session.execute(
            insert(SsoRoleMapping)
            .values(
                org_id=org_id,
                id=uuid.uuid5(org_id, "sso-role-mapping:eng-leads"),
                claim="groups",
                value="eng-leads",
                role="manager",
            )
            .on_conflict_do_nothing()
        )


#: The demo customer's IdP: the ``globex-idp`` realm on the same Keycloak (keycloak/globex-idp.json).
GLOBEX_IDP_REALM = "globex-idp"
GLOBEX_IDP_CLIENT_ID = "worktime"
GLOBEX_IDP_CLIENT_SECRET = "globex-idp-dev-secret"  # dev/test only, as the realm file itself


async def seed_sso_provider(db: Database, settings: Settings, org_id: uuid.UUID) -> None:
    """Connect the ``globex-idp`` realm as Globex's OIDC provider (what an admin does with
    ``POST …/sso/providers``), and put the verified ``globex.test`` on Globex's Keycloak organization:
    sign-ins typed as ``…@globex.test`` on the web app then go to globex-idp. Skipped with a warning when
    the realm is not there (a Keycloak that did not import it) or Keycloak is away; a rerun finds it."""
    provider_id = uuid.uuid5(org_id, "sso-provider:globex-idp")
    alias = f"wt-{org_id.hex[:8]}-{provider_id.hex[:8]}"
    async with db.unit_of_work(org_id=org_id) as session:
        existing = await session.get(SsoProvider, (org_id, provider_id))
    issuer = f"{settings.keycloak_url.rstrip('/')}/realms/{GLOBEX_IDP_REALM}"
    directory = Directory(admin_client(settings))
    try:
        kc_org = await directory.find(org_id)
        if kc_org is None:
            log.warning("seed_sso_provider_skipped", reason="no Keycloak organization for globex")
            return
        providers = Providers(directory)
        if await providers.get(alias) is None:
            try:
                endpoints = await sso_connection.fetch_oidc(settings, issuer)
            except sso_connection.ConnectionProblem as problem:
                log.warning("seed_sso_provider_skipped", reason=problem.message)
                return
            representation = oidc_representation(
                alias,
                "Globex Identity (demo)",
                True,
                endpoints,
                client_id=GLOBEX_IDP_CLIENT_ID,
                client_secret=GLOBEX_IDP_CLIENT_SECRET,
                scopes=list(DEFAULT_SCOPES),
            )
            # The seed marks globex.test verified: its accounts are linked on their first sign-in.
            await providers.create(str(kc_org["id"]), representation, ["globex.test"])
        await directory.set_domain(org_id, "globex.test", present=True)
    except DependencyUnavailable:
        log.warning("seed_sso_provider_skipped", reason="Keycloak unavailable")
        return
    if existing is not None:
        return
    async with db.unit_of_work(org_id=org_id) as session:
        await session.execute(
            insert(SsoProvider)
            .values(
                org_id=org_id,
                id=provider_id,
                idp_alias=alias,
                kind=ProviderKind.OIDC.value,
                display_name="Globex Identity (demo)",
                discovery_url=sso_connection.discovery_url(issuer),
                client_id=GLOBEX_IDP_CLIENT_ID,
                scopes=list(DEFAULT_SCOPES),
            )
            .on_conflict_do_nothing()
        )
    log.info("seeded_sso_provider", org_id=str(org_id), alias=alias)


async def seed_scim(db: Database, org_id: uuid.UUID) -> None:
    """A SCIM secret's digest (of an unguessable, discarded secret: rotate it to use SCIM)."""
    secret = f"wt_scim_seed_{uuid.uuid4().hex}"
    async with db.unit_of_work(org_id=org_id) as session:
        await session.execute(
            insert(ScimToken)
            .values(org_id=org_id, token_hash=scim_digest(secret), hint=secret[-4:])
            .on_conflict_do_nothing()
        )


async def seed_personal_tokens(db: Database, org_id: uuid.UUID, members: list[dict[str, Any]]) -> None:
    """A revoked personal API token of the first demo member (its secret was never kept), so the tokens
    page has a row to show; the first rerun finds it by its fixed id."""
    if not members:
        return
    secret = tokens.new_secret()
    async with db.unit_of_work(org_id=org_id) as session:
        await session.execute(
            insert(PersonalToken)
            .values(
                org_id=org_id,
                id=uuid.uuid5(org_id, "personal-token:seed"),
                user_id=uuid.UUID(members[0]["id"]),
                name="CI pipeline (revoked)",
                role="member",
                token_hash=tokens.digest(secret),
                hint=tokens.hint(secret),
                expires_at=utcnow() + timedelta(days=30),
                revoked_at=utcnow(),
            )
            .on_conflict_do_nothing()
        )


async def seed_outward(db: Database, org_id: uuid.UUID, members: list[dict[str, Any]]) -> None:
    """An inactive webhook endpoint (to a documentation host; switch it on with a real URL) and the first
    demo member's calendar feed (its secret URL is sealed like any feed's: rotate it to get one)."""
    if not members:
        return
    first = uuid.UUID(members[0]["id"])
    feed_token = integrations.FEED_PREFIX + uuid.uuid4().hex
    async with db.unit_of_work(org_id=org_id, user_id=first) as session:
        await session.execute(
            insert(WebhookEndpoint)
            .values(
                org_id=org_id,
                id=uuid.uuid5(org_id, "webhook:seed"),
                url="https://hooks.example.com/worktime",
                format=EndpointFormat.STANDARD.value,
                description="Example endpoint (inactive)",
                events=["timesheet.approved", "period.locked"],
                active=False,
                secret_sealed=secrets.seal(webhooks.new_secret()),
                created_by=first,
                created_at=utcnow(),
                updated_at=utcnow(),
            )
            .on_conflict_do_nothing()
        )
        await session.execute(
            insert(Integration)
            .values(
                org_id=org_id,
                id=uuid.uuid5(org_id, "calendar-feed:seed"),
                kind=ICAL.kind,
                user_id=first,
                name="Calendar feed",
                config=IcalConfig().model_dump(),
                secrets_sealed=secrets.seal(json.dumps({"token": feed_token})),
                lookup_hash=integrations.digest(feed_token),
                created_by=first,
                created_at=utcnow(),
                updated_at=utcnow(),
            )
            .on_conflict_do_nothing()
        )


async def seed_saved_reports(db: Database, org_id: uuid.UUID, members: list[dict[str, Any]]) -> None:
    """A shared saved report ("Last month by project and person") owned by the organization's first demo
    member, and one share link to it that was revoked (its secret was never kept: create a new link)."""
    if not members:
        return
    owner = uuid.UUID(members[0]["id"])
    report_id = uuid.uuid5(org_id, "saved-report:last-month")
    secret = f"wtrep_seed_{uuid.uuid4().hex}"
    async with db.unit_of_work(org_id=org_id) as session:
        await session.execute(
            insert(SavedReport)
            .values(
                org_id=org_id,
                id=report_id,
                owner_id=owner,
                name="Last month by project and person",
                query={"range": "last_month", "group_by": ["project", "user"]},
                shared=True,
                created_at=utcnow(),
                updated_at=utcnow(),
            )
            .on_conflict_do_nothing()
        )
        await session.execute(
            insert(ReportShareLink)
            .values(
                org_id=org_id,
                id=uuid.uuid5(org_id, "saved-report:last-month:link"),
                saved_report_id=report_id,
                token_hash=saved_report_digest(secret),
                hint=secret[-4:],
                created_by=owner,
                created_at=utcnow(),
                expires_at=utcnow() + timedelta(days=30),
                revoked_at=utcnow(),
            )
            .on_conflict_do_nothing()
        )


# --- time tracking demo: three weeks of acme's work, one week submitted and one approved -------------

DEMO_WEEKS = [date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16)]  # ISO weeks 45, 46, 47
# The work seed's projects (WEB and APP); time is logged on them.
DEMO_PROJECTS = {"Website relaunch": {"carol": "lead", "dave": "contributor"}, "Mobile app": {"dave": "contributor"}}
DEMO_PROJECT_KEYS = {"Website relaunch": "WEBS", "Mobile app": "MOBI"}  # as the service would derive them
# (person, project, description, local start hour:minute, minutes, tags); each weekday, per person
DEMO_DAY = [
    ("alice", "Mobile app", "Roadmap and stakeholder sync", (9, 0), 90, ["meeting"]),
    ("alice", "Website relaunch", "Review launch plan", (14, 0), 60, ["review"]),
    ("bob", "Mobile app", "API integration", (8, 30), 210, ["dev"]),
    ("bob", "Website relaunch", "Deploy pipeline", (13, 0), 150, ["ops"]),
    ("carol", "Website relaunch", "Sprint planning and reviews", (9, 0), 120, ["meeting"]),
    ("carol", "Website relaunch", "Content migration", (13, 30), 180, ["content"]),
    ("dave", "Website relaunch", "Homepage components", (9, 15), 165, ["dev", "frontend"]),
    ("dave", "Mobile app", "Bug fixes", (13, 0), 200, ["dev"]),
]
BERLIN = ZoneInfo("Europe/Berlin")
DEMO_ZONES = {"dave": "Europe/Berlin", "carol": "Europe/Berlin"}


def _demo_id(*parts: object) -> uuid.UUID:
    return uuid.uuid5(DEMO_NAMESPACE, ":".join(str(part) for part in parts))


Rates = dict[tuple[uuid.UUID | None, uuid.UUID | None], Decimal]


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
        projects = await _seed_time_projects(session, org_id, people)
        rates = await _seed_rates(session, org_id, people, projects)
        await _seed_member_settings(session, org_id, people)
        rows = _demo_entries(org_id, people, projects, rates, utcnow())
        added = (
            await session.scalars(insert(TimeEntry).values(rows).on_conflict_do_nothing().returning(col(TimeEntry.id)))
        ).all()
        await _seed_timesheets(session, org_id, people, rows)
        await _seed_worktime(session, org_id, people)
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


async def _seed_time_projects(
    session: AsyncSession, org_id: uuid.UUID, people: dict[str, uuid.UUID]
) -> dict[str, uuid.UUID]:
    """The projects time is logged on, by name (the work seed's, when it ran first), with their members."""
    projects: dict[str, uuid.UUID] = {}
    for name, roles in DEMO_PROJECTS.items():
        await session.execute(
            insert(Project)
            .values(id=_demo_id(org_id, "project", name), org_id=org_id, name=name, key=DEMO_PROJECT_KEYS[name])
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
    return projects


async def _seed_rates(
    session: AsyncSession, org_id: uuid.UUID, people: dict[str, uuid.UUID], projects: dict[str, uuid.UUID]
) -> Rates:
    rates: Rates = {
        (None, projects["Mobile app"]): Decimal("95.00"),
        (people["dave"], None): Decimal("70.00"),
        (people["dave"], projects["Mobile app"]): Decimal("85.00"),
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
    return rates


async def _seed_member_settings(session: AsyncSession, org_id: uuid.UUID, people: dict[str, uuid.UUID]) -> None:
    """dave's capacity, acme's export retention, the members' time zones and the tags the entries use."""
    # dave works four days a week: the productivity report expects 32 hours of him.
    await session.execute(
        insert(MemberCapacity)
        .values(org_id=org_id, user_id=people["dave"], weekly_hours=Decimal("32"))
        .on_conflict_do_nothing()
    )
    # acme's auditors keep export files for 30 days (the server default is 7).
    await session.execute(
        insert(ExportSettings).values(org_id=org_id, retention_hours=30 * 24).on_conflict_do_nothing()
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


async def _seed_worktime(session: AsyncSession, org_id: uuid.UUID, people: dict[str, uuid.UUID]) -> None:
    """A holiday calendar (Saxony: 18 November is a holiday there), contracts from week 45 (dave four days
    of 8 h, carol five), dave's half day off on Thursday of week 46 and his vacation before Christmas."""
    calendar = _demo_id(org_id, "holiday-calendar", "saxony")
    await session.execute(
        insert(HolidayCalendar)
        .values(org_id=org_id, id=calendar, name="Germany - Saxony", created_at=utcnow())
        .on_conflict_do_nothing()
    )
    holidays = [
        (date(2026, 11, 18), "Day of Repentance and Prayer"),
        (date(2026, 12, 25), "Christmas Day"),
        (date(2026, 12, 26), "Boxing Day"),
        (date(2027, 1, 1), "New Year's Day"),
    ]
    await session.execute(
        insert(Holiday)
        .values(
            [
                {
                    "org_id": org_id,
                    "id": _demo_id(org_id, "holiday", day),
                    "calendar_id": calendar,
                    "day": day,
                    "name": name,
                }
                for day, name in holidays
            ]
        )
        .on_conflict_do_nothing()
    )
    now = utcnow()
    for person, minutes in (("dave", [480, 480, 480, 480, 0, 0, 0]), ("carol", [480] * 5 + [0, 0])):
        await session.execute(
            insert(WorkContract)
            .values(
                org_id=org_id, id=_demo_id(org_id, "contract", person), user_id=people[person],
                valid_from=DEMO_WEEKS[0], weekday_minutes=minutes, calendar_id=calendar, created_at=now, updated_at=now,
            )
            .on_conflict_do_nothing()
        )  # fmt: skip
    for key, kind, first, last, half in (
        ("half-day", "other", date(2026, 11, 12), date(2026, 11, 12), True),
        ("vacation", "vacation", date(2026, 12, 21), date(2026, 12, 23), False),
    ):
        await session.execute(
            insert(Absence)
            .values(
                org_id=org_id, id=_demo_id(org_id, "absence", key), user_id=people["dave"], kind=kind,
                first_day=first, last_day=last, half_day=half, note="", created_by=people["dave"], created_at=now,
            )
            .on_conflict_do_nothing()
        )  # fmt: skip


def _rate_for(rates: Rates, user_id: uuid.UUID, project_id: uuid.UUID) -> Decimal:
    """The most specific rate: person on project, then project, then person, then the default."""
    for key in ((user_id, project_id), (None, project_id), (user_id, None)):
        if key in rates:
            return rates[key]
    return Decimal("80.00")


def _demo_days(now: datetime) -> list[tuple[date, int]]:
    """(Monday, weekday) pairs: the three fixed weeks, and the current week up to now (so the dashboard has a
    "this week")."""
    this_monday = now.date() - timedelta(days=now.date().weekday())
    days = [(week, day) for week in DEMO_WEEKS for day in range(5)]
    if this_monday not in DEMO_WEEKS:
        days += [(this_monday, day) for day in range(min(5, now.date().weekday() + 1))]
    return days


def _demo_entries(
    org_id: uuid.UUID,
    people: dict[str, uuid.UUID],
    projects: dict[str, uuid.UUID],
    rates: Rates,
    now: datetime,
) -> list[dict[str, Any]]:
    """Every DEMO_DAY entry on every demo day that has ended by now. Ids come from the start instant, so
    running the seed again adds only what has passed since."""
    rows: list[dict[str, Any]] = []
    for week, day in _demo_days(now):
        for person, project, description, (hour, minute), minutes, day_tags in DEMO_DAY:
            local = ZoneInfo(DEMO_ZONES.get(person, "UTC"))
            start = datetime.combine(week + timedelta(days=day), datetime.min.time(), tzinfo=local)
            start += timedelta(hours=hour, minutes=minute + 7 * day % 20)
            if start + timedelta(minutes=minutes) > now:
                continue
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
                    "rate": _rate_for(rates, people[person], projects[project]),
                    "currency": "EUR",
                    "no_overlap": True,
                    "source": "manual",
                    "created_by": people[person],
                }
            )
    return rows


async def _seed_timesheets(
    session: AsyncSession, org_id: uuid.UUID, people: dict[str, uuid.UUID], rows: list[dict[str, Any]]
) -> None:
    """dave's week 46 approved by carol, with one correction of an entry in it, and week 47 submitted."""
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


def _id(name: str) -> uuid.UUID:
    return uuid.uuid5(DEMO_NAMESPACE, name)


async def seed_work(db: Database, settings: Settings, org_id: uuid.UUID, people: dict[str, uuid.UUID]) -> None:
    """acme's demo work: clients, projects with keys and budgets, tasks with assignees, comments, an
    attachment, shared notes, a recurring event and decisions. Fixed ids: a second run adds nothing."""
    async with db.unit_of_work(org_id=org_id, user_id=people["alice"]) as session:
        if await session.get(Project, _id("project:web")) is not None:
            return
        now = datetime.now(UTC)
        initech, web = await _seed_clients_and_projects(session, org_id, people)
        tasks = await _seed_tasks(session, org_id, web, people, now)
        await _seed_comment_and_attachment(session, settings, org_id, tasks[1], people["dave"])
        await _seed_notes(session, org_id, people, web, initech)
        await _seed_standup(session, org_id, people, web)
        await _seed_calendar_week(session, org_id, people, now)
        await _seed_decisions(session, org_id, people, web, now)
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


async def _seed_clients_and_projects(
    session: AsyncSession, org_id: uuid.UUID, people: dict[str, uuid.UUID]
) -> tuple[Client, Project]:
    """Initech and Umbrella; WEB (Initech's, money budget) and APP (Umbrella's, hours budget); carol leads
    both. Returns Initech and WEB, which the rest of the demo hangs on."""
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
    carol, dave = people["carol"], people["dave"]
    session.add_all(
        [
            ProjectMembership(org_id=org_id, project_id=web.id, user_id=carol, role="lead"),
            ProjectMembership(org_id=org_id, project_id=web.id, user_id=dave, role="contributor"),
            ProjectMembership(org_id=org_id, project_id=app.id, user_id=carol, role="lead"),
        ]
    )
    return initech, web


async def _seed_tasks(
    session: AsyncSession, org_id: uuid.UUID, web: Project, people: dict[str, uuid.UUID], now: datetime
) -> list[Task]:
    """WEB-1 done, WEB-2 in progress (dave and carol), WEB-3 open (dave)."""
    carol, dave = people["carol"], people["dave"]
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
    return tasks


async def _seed_comment_and_attachment(
    session: AsyncSession, settings: Settings, org_id: uuid.UUID, task: Task, dave: uuid.UUID
) -> None:
    """dave's comment on the task, with a small file in the configured store."""
    comment = Comment(
        id=_id("comment:web-2"), org_id=org_id, task_id=task.id, author_id=dave,
        body="First draft is in the shared folder; feedback welcome.",
    )  # fmt: skip
    session.add(comment)
    await session.flush()
    content = b"Worktime demo attachment: the home page brief.\n"
    storage = create_storage(settings)
    key = f"{org_id}/{_id('attachment:web-2')}"
    with storage.scratch() as scratch:
        scratch.write(content)
    await put_in(session, storage, key, scratch.name)
    session.add(
        Attachment(
            id=_id("attachment:web-2"), org_id=org_id, task_id=task.id, comment_id=comment.id,
            filename="brief.txt", content_type="text/plain", size_bytes=len(content),
            sha256=hashlib.sha256(content).hexdigest(), storage_key=key, uploaded_by=dave,
        )
    )  # fmt: skip


async def _seed_notes(
    session: AsyncSession, org_id: uuid.UUID, people: dict[str, uuid.UUID], web: Project, initech: Client
) -> None:
    """alice's pinned kickoff note, shared with WEB (view) and carol (edit), and a private one."""
    alice, carol = people["alice"], people["carol"]
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


async def _seed_standup(session: AsyncSession, org_id: uuid.UUID, people: dict[str, uuid.UUID], web: Project) -> None:
    """WEB's standup three times a week (Berlin time), with attendees and Christmas Day cancelled."""
    carol, dave = people["carol"], people["dave"]
    standup = Event(
        id=_id("event:standup"), org_id=org_id, title="WEB standup", location="Room 1 / video",
        starts_at=datetime(2026, 11, 30, 9, 0, tzinfo=BERLIN), ends_at=datetime(2026, 11, 30, 9, 15, tzinfo=BERLIN),
        rrule="FREQ=WEEKLY;BYDAY=MO,WE,FR", timezone="Europe/Berlin", project_id=web.id, created_by=carol,
    )  # fmt: skip
    session.add(standup)
    await session.flush()
    session.add_all(
        [
            EventAttendee(org_id=org_id, event_id=standup.id, user_id=carol, rsvp="accepted"),
            EventAttendee(org_id=org_id, event_id=standup.id, user_id=dave, rsvp="pending"),
            EventCancellation(
                org_id=org_id, event_id=standup.id, occurrence_start=datetime(2026, 12, 25, 9, 0, tzinfo=BERLIN)
            ),
        ]
    )
    await session.flush()


async def _seed_calendar_week(
    session: AsyncSession, org_id: uuid.UUID, people: dict[str, uuid.UUID], now: datetime
) -> None:
    """The seeding week's other events (Berlin time): a tentative planning, a cancelled lunch and
    alice's private call, which everyone else sees as busy time."""
    alice, bob, carol, dave = people["alice"], people["bob"], people["carol"], people["dave"]
    monday = now.astimezone(BERLIN).date() - timedelta(days=now.astimezone(BERLIN).weekday())

    def at(day: int, hour: int) -> datetime:
        return datetime.combine(monday + timedelta(days=day), time(hour), tzinfo=BERLIN)

    planning = Event(
        id=_id("event:planning"), org_id=org_id, title="Quarterly planning", location="Board room",
        starts_at=at(1, 13), ends_at=at(1, 15), timezone="Europe/Berlin", status="tentative", created_by=alice,
    )  # fmt: skip
    lunch = Event(
        id=_id("event:lunch"), org_id=org_id, title="Team lunch", location="Canteen",
        starts_at=at(2, 12), ends_at=at(2, 13), timezone="Europe/Berlin", status="cancelled", created_by=alice,
    )  # fmt: skip
    call = Event(
        id=_id("event:pricing-call"), org_id=org_id, title="Pricing call with Initech", location="Phone",
        starts_at=at(3, 14), ends_at=at(3, 15), timezone="Europe/Berlin", privacy="private", created_by=alice,
    )  # fmt: skip
    session.add_all([planning, lunch, call])
    await session.flush()
    session.add_all(
        [
            EventAttendee(org_id=org_id, event_id=planning.id, user_id=bob, rsvp="accepted"),
            EventAttendee(org_id=org_id, event_id=planning.id, user_id=carol, rsvp="tentative"),
            EventAttendee(org_id=org_id, event_id=planning.id, user_id=dave),
        ]
    )
    await session.flush()


async def _seed_decisions(
    session: AsyncSession, org_id: uuid.UUID, people: dict[str, uuid.UUID], web: Project, now: datetime
) -> None:
    """A decision superseded by a later one on WEB, and an organization-wide proposal."""
    alice, carol, dave = people["alice"], people["carol"], people["dave"]
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
