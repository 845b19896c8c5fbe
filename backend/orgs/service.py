"""Organizations: create, list mine, read, rename, archive; members; the audit trail of an organization.

Every function takes the acting context, asks the enforcer, does the work and writes the audit event in
the request's one transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from backend.core import audit, authz
from backend.core.audit import AuditEvent
from backend.core.deps import OrgContext, UserContext, rebind
from backend.core.errors import Conflict, Forbidden
from backend.core.models import utcnow
from backend.core.pagination import PageParams
from backend.orgs import schemas
from backend.orgs.models import Membership, Organization, OrgRole


def _org_state(org: Organization) -> dict[str, Any]:
    return {"slug": org.slug, "name": org.name, "archived_at": org.archived_at}


def _read(org: Organization, role: str) -> schemas.OrganizationRead:
    return schemas.OrganizationRead(
        id=org.id,
        slug=org.slug,
        name=org.name,
        archived_at=org.archived_at,
        created_at=org.created_at,
        my_role=OrgRole(role),
    )


async def create(ctx: UserContext, data: schemas.OrganizationCreate) -> schemas.OrganizationRead:
    """Anyone signed in may found an organization; they become its owner."""
    if ctx.principal.is_service_account:
        raise Forbidden("Service accounts cannot found organizations.")
    org = Organization(id=uuid.uuid4(), slug=data.slug, name=data.name)
    # The new tenant's rows must pass its RLS checks: the transaction now acts inside it.
    await rebind(ctx, org.id)
    ctx.session.add(org)
    try:
        await ctx.session.flush()
    except IntegrityError:
        raise Conflict(f"The slug '{data.slug}' is already taken.", extra={"field": "slug"}) from None
    membership = Membership(org_id=org.id, user_id=ctx.user.id, role=OrgRole.OWNER.value)
    ctx.session.add(membership)
    await ctx.session.flush()
    await audit.record(
        ctx.session,
        org_id=org.id,
        actor=ctx.principal,
        action="organization.created",
        resource_type="organization",
        resource_id=org.id,
        after=_org_state(org),
    )
    await audit.record(
        ctx.session,
        org_id=org.id,
        actor=ctx.principal,
        action="membership.created",
        resource_type="membership",
        resource_id=ctx.user.id,
        after={"role": membership.role},
    )
    return _read(org, membership.role)


async def list_mine(
    ctx: UserContext, page: PageParams, *, include_archived: bool = False
) -> tuple[list[schemas.OrganizationRead], int]:
    """The caller's organizations. Scoped by the membership filter here and by RLS underneath."""
    # Invitations are listed too: using one (any request in that organization) accepts it.
    conditions = [Membership.user_id == ctx.user.id]
    if not include_archived:
        conditions.append(Organization.archived_at.is_(None))  # type: ignore[union-attr]
    base = select(Organization, col(Membership.role)).join(Membership, col(Membership.org_id) == col(Organization.id))
    base = base.where(*conditions)  # type: ignore[arg-type]
    total = await ctx.session.scalar(select(func.count()).select_from(base.subquery()))
    rows = await ctx.session.execute(
        base.order_by(col(Organization.name), col(Organization.id)).limit(page.limit).offset(page.offset)
    )
    return [_read(org, role) for org, role in rows.all()], int(total or 0)


async def get(ctx: OrgContext) -> schemas.OrganizationRead:
    authz.require(ctx, "organization:read")
    return _read(ctx.org, ctx.membership.role)


def _ensure_active(ctx: OrgContext) -> None:
    if ctx.org.archived_at is not None:
        raise Conflict("This organization is archived; it can be read but not changed.")


async def update(ctx: OrgContext, data: schemas.OrganizationUpdate) -> schemas.OrganizationRead:
    authz.require(ctx, "organization:update")
    _ensure_active(ctx)
    before = _org_state(ctx.org)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    for field, value in changes.items():
        setattr(ctx.org, field, value)
    if _org_state(ctx.org) != before:
        ctx.org.updated_at = utcnow()
        try:
            await ctx.session.flush()
        except IntegrityError:
            raise Conflict(f"The slug '{data.slug}' is already taken.", extra={"field": "slug"}) from None
        await audit.record_in(
            ctx,
            action="organization.updated",
            resource_type="organization",
            resource_id=ctx.org_id,
            before=before,
            after=_org_state(ctx.org),
        )
    return _read(ctx.org, ctx.membership.role)


async def archive(ctx: OrgContext) -> schemas.OrganizationRead:
    authz.require(ctx, "organization:archive")
    _ensure_active(ctx)
    before = _org_state(ctx.org)
    ctx.org.archived_at = ctx.org.updated_at = utcnow()
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="organization.archived",
        resource_type="organization",
        resource_id=ctx.org_id,
        before=before,
        after=_org_state(ctx.org),
    )
    return _read(ctx.org, ctx.membership.role)


async def list_audit_events(ctx: OrgContext, page: PageParams) -> tuple[list[schemas.AuditEventRead], int]:
    authz.require(ctx, "audit:read")
    base = select(AuditEvent).where(AuditEvent.org_id == ctx.org_id)  # type: ignore[arg-type]
    total = await ctx.session.scalar(select(func.count()).select_from(base.subquery()))
    events = await ctx.session.scalars(
        base.order_by(AuditEvent.seq.desc()).limit(page.limit).offset(page.offset)  # type: ignore[attr-defined]
    )
    return [schemas.AuditEventRead.model_validate(e, from_attributes=True) for e in events], int(total or 0)
