"""Keeping Keycloak's copy of an organization in step (backend/tenancy/directory.py).

A change to an organization or its memberships calls :func:`request` inside its transaction: the job is
an outbox row of that transaction, so it runs after the commit, in a worker, with no database
transaction open while Keycloak answers, and is retried while Keycloak is away. The job reads the
organization as it is *then* and makes Keycloak match, so jobs may run in any order or twice.
"""

from __future__ import annotations

import uuid
from functools import lru_cache

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.core import jobs
from backend.core.worker import worker_database
from backend.settings import get_settings
from backend.tenancy.directory import Directory, OrgMirror, admin_client
from backend.tenancy.models import Membership, Organization
from backend.tenancy.roles import MembershipStatus

log = structlog.get_logger(__name__)


async def load(session: AsyncSession, org_id: uuid.UUID) -> OrgMirror | None:
    """What Keycloak should hold for ``org_id`` (read inside its tenant), or None when it is gone."""
    org = await session.get(Organization, org_id)
    if org is None:
        return None
    members = await session.scalars(
        select(col(Membership.user_id)).where(
            col(Membership.org_id) == org_id, col(Membership.status) == MembershipStatus.ACTIVE.value
        )
    )
    return OrgMirror(
        org_id=org.id,
        slug=org.slug,
        name=org.name,
        archived=org.archived_at is not None,
        member_ids=frozenset(members),
    )


@lru_cache(maxsize=1)
def worker_directory() -> Directory:
    return Directory(admin_client(get_settings()))


@jobs.actor(max_retries=8, min_backoff=1_000, max_backoff=60_000)
async def mirror_organization(org_id: str) -> None:
    target = uuid.UUID(org_id)
    async with worker_database().unit_of_work(org_id=target) as session:
        mirror = await load(session, target)
    directory = worker_directory()
    if mirror is None:
        removed = await directory.forget(target)
        log.info("keycloak_org_forgotten", org_id=org_id, removed=removed)
        return
    report = await directory.sync(mirror)
    if report.changed:
        log.info("keycloak_org_mirrored", org_id=org_id, changes=report.lines())


def request(org_id: uuid.UUID) -> None:
    """Bring Keycloak's copy of ``org_id`` up to date after this transaction commits."""
    jobs.send(mirror_organization, str(org_id))
