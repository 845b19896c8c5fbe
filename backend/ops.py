"""Operator commands that run as the owner role (which RLS lets read every tenant, never write)."""

from __future__ import annotations

import contextlib
import uuid

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from backend.core.audit import verify_chain
from backend.core.db import create_engine
from backend.settings import Settings
from backend.tenancy.models import Organization


async def verify_audit(settings: Settings, org: str | None) -> int:
    """Print one line per organization; exit status 1 when any chain is broken (an altered or missing event,
    a truncated tail below an anchored head, an anchor whose signature fails), 2 for an unknown org."""
    from backend.orgs.service import check_audit_anchors

    engine = create_engine(settings.database_owner_url, settings, pool_size=1)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    broken = 0
    try:
        async with sessions() as session, session.begin():
            query = select(Organization).order_by(Organization.slug)
            if org:
                conditions = [Organization.slug == org]
                with contextlib.suppress(ValueError):
                    conditions.append(Organization.id == uuid.UUID(org))
                query = query.where(or_(*conditions))  # type: ignore[arg-type]
            organizations = list(await session.scalars(query))
            if not organizations:
                print(f"no such organization: {org}")
                return 2
            for organization in organizations:
                name = f"{organization.slug} ({organization.id})"
                report = await verify_chain(session, organization.id)
                anchors = await check_audit_anchors(session, organization.id)
                if report.ok and anchors.ok:
                    head = f", head seq={anchors.latest.head_seq} anchored" if anchors.latest else ", never anchored"
                    print(f"ok      {name}: {report.events} events, {anchors.anchors} anchors{head}")
                    continue
                broken += 1
                if not report.ok:
                    print(f"BROKEN  {name}: event seq={report.broken_seq} id={report.broken_id}: {report.reason}")
                if not anchors.ok:
                    print(f"BROKEN  {name}: {anchors.reason}")
    finally:
        await engine.dispose()
    return 1 if broken else 0


async def rotate_secret_keys(settings: Settings) -> dict[str, int]:
    """Re-encrypt every sealed secret (webhook signing secrets, connector secrets) under the newest of
    ``secret_keys``, in one transaction: either all of them move to the new key or none does."""
    from backend.integrations import service as integrations
    from backend.webhooks import service as webhooks

    engine = create_engine(settings.database_owner_url, settings, pool_size=1)
    try:
        async with engine.begin() as connection:
            return {
                "webhook_endpoints": await webhooks.reseal_secrets(connection),
                "integrations": await integrations.reseal_secrets(connection),
            }
    finally:
        await engine.dispose()


async def reconcile_sso(settings: Settings, *, dry_run: bool) -> int:
    """Repair drift between the platform's organizations (their active members and verified email
    domains) and Keycloak's copies; print what changed."""
    from sqlmodel import col

    from backend.sso.models import SsoDomain
    from backend.tenancy.directory import Directory, OrgMirror, admin_client
    from backend.tenancy.models import Membership
    from backend.tenancy.roles import MembershipStatus

    engine = create_engine(settings.database_owner_url, settings, pool_size=1)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        async with sessions() as session, session.begin():
            organizations = list(await session.scalars(select(Organization).order_by(Organization.slug)))
            members: dict[uuid.UUID, set[uuid.UUID]] = {}
            rows = await session.execute(
                select(col(Membership.org_id), col(Membership.user_id)).where(
                    col(Membership.status) == MembershipStatus.ACTIVE.value
                )
            )
            for org_id, user_id in rows.all():
                members.setdefault(org_id, set()).add(user_id)
            domains: dict[uuid.UUID, set[str]] = {}
            verified = await session.execute(
                select(col(SsoDomain.org_id), col(SsoDomain.domain)).where(col(SsoDomain.verified_at).is_not(None))
            )
            for org_id, domain in verified.all():
                domains.setdefault(org_id, set()).add(domain)
    finally:
        await engine.dispose()
    wanted = [
        OrgMirror(
            org_id=org.id,
            slug=org.slug,
            name=org.name,
            archived=org.archived_at is not None,
            member_ids=frozenset(members.get(org.id, set())),
            domains=frozenset(domains.get(org.id, set())),
        )
        for org in organizations
    ]
    # An operator's one-off run over every organization: a slow answer is worth waiting for (the API's
    # short timeout keeps requests from hanging; here it would only abort the whole repair).
    patient = settings.model_copy(update={"keycloak_timeout_seconds": max(settings.keycloak_timeout_seconds, 30.0)})
    report = await Directory(admin_client(patient)).reconcile(wanted, dry_run=dry_run)
    for line in report.lines():
        print(("would: " if dry_run and report.changed else "") + line)
    return 0
