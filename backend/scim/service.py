"""SCIM 2.0 provisioning (RFC 7643/7644) for an organization: its bearer secret, and the names of a
person's SCIM groups (which the SSO domain counts as ``groups`` claim values).

The secret is ``wt_scim_`` followed by 32 random bytes; only its SHA-256 digest is stored, one per
organization. Owners and admins create it (creating again rotates it: the old one stops at once) and
revoke it. A SCIM request names its organization in the path; the request binds that tenant, then looks
the digest up under row-level security, so another organization's secret finds nothing and gets 404.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.core import audit
from backend.core.db import Database, bind_tenant
from backend.core.errors import NotFound
from backend.core.models import utcnow
from backend.scim import schemas
from backend.scim.models import ScimGroup, ScimGroupMember, ScimToken
from backend.tenancy import guard
from backend.tenancy.context import OrgContext

PREFIX = "wt_scim_"
READ, MANAGE = "scim_token:read", "scim_token:manage"
_ORG_EXISTS = text("SELECT app_org_exists(:org_id)")


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def _hint(secret: str) -> str:
    return secret[-4:]


def _state(row: ScimToken) -> dict[str, Any]:
    return {"hint": row.hint, "created_by": str(row.created_by) if row.created_by else None}


async def read_token(ctx: OrgContext) -> schemas.ScimTokenRead:
    guard.require(ctx, READ)
    row = await ctx.session.get(ScimToken, ctx.org_id)
    if row is None:
        return schemas.ScimTokenRead(enabled=False, hint=None, created_at=None, last_used_at=None)
    return schemas.ScimTokenRead(enabled=True, hint=row.hint, created_at=row.created_at, last_used_at=row.last_used_at)


async def rotate_token(ctx: OrgContext) -> schemas.ScimTokenCreated:
    """Create the organization's SCIM secret, or replace it (the old one stops working at once)."""
    guard.require(ctx, MANAGE)
    row = await ctx.session.get(ScimToken, ctx.org_id, with_for_update=True)
    before = _state(row) if row is not None else None
    secret = new_secret()
    now = utcnow()
    if row is None:
        row = ScimToken(org_id=ctx.org_id, token_hash=digest(secret), hint=_hint(secret), created_by=ctx.user_id)
        ctx.session.add(row)
    else:
        row.token_hash, row.hint, row.created_by, row.last_used_at = digest(secret), _hint(secret), ctx.user_id, None
    row.created_at = now
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="scim_token.rotated" if before else "scim_token.created",
        resource_type="scim_token",
        resource_id=ctx.org_id,
        before=before,
        after=_state(row),
    )
    return schemas.ScimTokenCreated(enabled=True, hint=row.hint, created_at=now, last_used_at=None, token=secret)


async def revoke_token(ctx: OrgContext) -> None:
    guard.require(ctx, MANAGE)
    row = await ctx.session.get(ScimToken, ctx.org_id, with_for_update=True)
    if row is None:
        raise NotFound("SCIM is not switched on for this organization.")
    before = _state(row)
    await ctx.session.delete(row)
    await ctx.session.flush()
    await audit.record_in(
        ctx, action="scim_token.revoked", resource_type="scim_token", resource_id=ctx.org_id, before=before
    )


async def authenticate(db: Database, org_id: uuid.UUID, secret: str | None) -> bool:
    """Whether ``secret`` is ``org_id``'s SCIM secret (stamps its last use). Looked up inside the
    organization's tenant, so another organization's secret is simply not found."""
    if not secret or not secret.startswith(PREFIX):
        return False
    async with db.transaction() as session:
        await bind_tenant(session, org_id=org_id, user_id=None)
        row = await session.scalar(select(ScimToken).where(col(ScimToken.org_id) == org_id))
        if row is None or not hmac.compare_digest(row.token_hash, digest(secret)):
            return False
        row.last_used_at = utcnow()
    return True


async def group_names(
    session: AsyncSession, org_id: uuid.UUID, user_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, set[str]]:
    """The names of the SCIM groups of ``org_id`` each of ``user_ids`` is in (people in no group are
    absent). The session has the organization's tenant bound."""
    found: dict[uuid.UUID, set[str]] = {}
    if not user_ids:
        return found
    rows = await session.execute(
        select(ScimGroupMember.user_id, ScimGroup.display_name)  # type: ignore[call-overload]
        .join(
            ScimGroup,
            (col(ScimGroup.org_id) == col(ScimGroupMember.org_id))
            & (col(ScimGroup.id) == col(ScimGroupMember.group_id)),
        )
        .where(col(ScimGroupMember.org_id) == org_id, col(ScimGroupMember.user_id).in_(list(user_ids)))
    )
    for user_id, name in rows:
        found.setdefault(user_id, set()).add(name)
    return found
