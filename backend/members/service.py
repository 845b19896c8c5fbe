"""Members of an organization: invite through Keycloak, list, change roles, remove; invitations
answered by the invitee. The rank and last-owner rules live in :mod:`backend.tenancy.memberships`."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from backend.core import audit
from backend.core.errors import Conflict, NotFound
from backend.core.models import utcnow
from backend.core.pagination import Page, PageParams, paginate
from backend.members import schemas
from backend.members.keycloak import IdentityProvider, Person
from backend.tenancy import guard, memberships
from backend.tenancy.context import OrgContext, OrgTransactions, UserContext
from backend.tenancy.models import Membership, User
from backend.tenancy.roles import MembershipStatus, OrgRole


def _read(membership: Membership, user: User) -> schemas.MemberRead:
    return schemas.MemberRead(
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=OrgRole(membership.role),
        status=MembershipStatus(membership.status),
        created_at=membership.created_at,
    )


async def _get(ctx: OrgContext, user_id: uuid.UUID) -> tuple[Membership, User]:
    row = (
        await ctx.session.execute(
            select(Membership, User)
            .join(User, col(User.id) == col(Membership.user_id))
            .where(col(Membership.org_id) == ctx.org_id, col(Membership.user_id) == user_id)
        )
    ).first()
    if row is None:
        raise NotFound("No such member in this organization.")
    return row[0], row[1]


async def list_members(ctx: OrgContext, page: PageParams, *, search: str | None = None) -> Page[schemas.MemberRead]:
    guard.require(ctx, "member:list")
    query = (
        select(Membership, User)
        .join(User, col(User.id) == col(Membership.user_id))
        .where(col(Membership.org_id) == ctx.org_id)
    )
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(or_(col(User.email).ilike(f"%{escaped}%"), col(User.display_name).ilike(f"%{escaped}%")))

    def item(row: Any) -> schemas.MemberRead:
        return _read(row[0], row[1])

    return await paginate(ctx.session, query, page, item, order_by=[col(User.email), col(User.id)])


async def _refuse_active_member(ctx: OrgContext, email: str) -> None:
    active = await ctx.session.scalar(
        select(col(Membership.user_id))
        .join(User, col(User.id) == col(Membership.user_id))
        .where(
            col(Membership.org_id) == ctx.org_id,
            col(Membership.status) == MembershipStatus.ACTIVE.value,
            func.lower(col(User.email)) == email,
        )
    )
    if active is not None:
        raise Conflict(f"{email} is already a member of this organization.")


async def invite(org: OrgTransactions, idp: IdentityProvider, data: schemas.Invitation) -> schemas.MemberRead:
    """Create or link the person in Keycloak, send Keycloak's email, record the pending membership.

    Three steps, so that no pooled database connection waits on Keycloak: (1) a short transaction
    authorizes and validates; (2) Keycloak is called with no transaction open; (3) a second short
    transaction authorizes again (the caller's role may have changed meanwhile) and records the
    membership and its audit event. Safe to retry: an existing account is linked by email and an
    existing invitation is re-sent. If anything fails after Keycloak created an account, the account is
    deleted again and nothing is recorded."""
    email = data.email.lower()
    async with org.transaction() as ctx:
        guard.require(ctx, "member:invite")
        memberships.require_can_grant(ctx, data.role)
        await _refuse_active_member(ctx, email)
    person = await idp.find_or_create(email)
    try:
        await idp.send_invitation(person)
        async with org.transaction() as ctx:
            guard.require(ctx, "member:invite")
            memberships.require_can_grant(ctx, data.role)
            return await _record_invitation(ctx, person, email, data.role)
    except BaseException:
        if person.created:
            await idp.delete(person.id)
        raise


async def _record_invitation(ctx: OrgContext, person: Person, email: str, role: OrgRole) -> schemas.MemberRead:
    existing = await ctx.session.get(Membership, (ctx.org_id, person.id))
    if existing is not None and existing.status == MembershipStatus.ACTIVE:
        raise Conflict(f"{email} is already a member of this organization.")
    await ctx.session.execute(
        insert(User)
        .values(id=person.id, email=email, username=person.username, display_name=person.display_name)
        .on_conflict_do_nothing()
    )
    if existing is None:
        membership = Membership(
            org_id=ctx.org_id,
            user_id=person.id,
            role=role.value,
            status=MembershipStatus.INVITED.value,
            invited_by=ctx.user_id,
        )
        ctx.session.add(membership)
        action, before = "membership.invited", None
    else:
        membership, before = existing, {"role": existing.role}
        membership.role, membership.updated_at = role.value, utcnow()
        action = "membership.reinvited"
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action=action,
        resource_type="membership",
        resource_id=person.id,
        before=before,
        after={"role": membership.role, "email": email},
    )
    user = await ctx.session.get(User, person.id)
    assert user is not None
    return _read(membership, user)


async def change_role(ctx: OrgContext, user_id: uuid.UUID, data: schemas.RoleChange) -> schemas.MemberRead:
    guard.require(ctx, "member:update")
    await memberships.lock(ctx)
    membership, user = await _get(ctx, user_id)
    memberships.require_reaches(ctx, OrgRole(membership.role))
    memberships.require_can_grant(ctx, data.role)
    if membership.role == data.role.value:
        return _read(membership, user)
    await memberships.require_another_owner(ctx, membership, verb="demoted")
    before = {"role": membership.role}
    membership.role, membership.updated_at = data.role.value, utcnow()
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="membership.role_changed",
        resource_type="membership",
        resource_id=user_id,
        before=before,
        after={"role": membership.role},
    )
    return _read(membership, user)


async def remove(ctx: OrgContext, user_id: uuid.UUID) -> None:
    """Take access away. The member's next request in this organization is refused (404)."""
    leaving = user_id == ctx.user_id
    guard.require(ctx, "member:leave" if leaving else "member:remove")
    await memberships.lock(ctx)
    membership, _ = await _get(ctx, user_id)
    if not leaving:
        memberships.require_reaches(ctx, OrgRole(membership.role))
    await memberships.require_another_owner(ctx, membership, verb="removed")
    await ctx.session.delete(membership)
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="membership.removed",
        resource_type="membership",
        resource_id=user_id,
        before={"role": membership.role, "status": membership.status},
    )


def _invitation_read(invitation: memberships.PendingInvitation) -> schemas.InvitationRead:
    return schemas.InvitationRead(
        org_id=invitation.org_id,
        org_slug=invitation.org_slug,
        org_name=invitation.org_name,
        role=invitation.role,
        invited_by=invitation.invited_by,
        invited_at=invitation.invited_at,
    )


async def my_invitations(ctx: UserContext) -> list[schemas.InvitationRead]:
    # The caller's own pending memberships: nothing of any organization beyond its name is shown.
    return [_invitation_read(invitation) for invitation in await memberships.pending_invitations(ctx)]


async def accept_invitation(ctx: OrgContext) -> schemas.MemberRead:
    membership = await memberships.accept(ctx)
    user = await ctx.session.get(User, ctx.user_id)
    assert user is not None
    return _read(membership, user)


async def decline_invitation(ctx: OrgContext) -> None:
    await memberships.decline(ctx)
