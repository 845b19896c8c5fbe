"""Demo data for development: the organizations and memberships of the demo users.

The demo users themselves live in Keycloak's development overlay (keycloak/realm.dev.json) with fixed
ids; this reads the same file so the two can never disagree. Running it twice changes nothing.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from backend.core import audit
from backend.core.db import Database
from backend.settings import Settings
from backend.tenancy.models import Membership, Organization, User

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
    finally:
        await db.dispose()
