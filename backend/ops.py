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
    """Print one line per organization; exit status 1 when any chain is broken, 2 for an unknown org."""
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
                report = await verify_chain(session, organization.id)
                if report.ok:
                    print(f"ok      {organization.slug} ({organization.id}): {report.events} events")
                else:
                    broken += 1
                    print(
                        f"BROKEN  {organization.slug} ({organization.id}): event seq={report.broken_seq} "
                        f"id={report.broken_id}: {report.reason}"
                    )
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
