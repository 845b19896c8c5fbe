"""Members of an organization: invite through Keycloak, list, change roles, remove.

Rules beyond the permission itself: nobody grants a role above their own, nobody changes or removes
someone ranked above them, and an organization always keeps at least one owner.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from backend.core import audit, authz
from backend.core.deps import OrgContext
from backend.core.errors import Conflict, Forbidden, NotFound
from backend.core.models import utcnow
from backend.core.pagination import PageParams
from backend.identity.models import User
from backend.members import schemas
from backend.members.keycloak import IdentityProvider
from backend.orgs.models import Membership, MembershipStatus, OrgRole

# How far a role reaches when granting, changing or removing others. The auditor reads everything but
# manages no one; ranking it with admins only means an admin may appoint one.
RANK = {OrgRole.OWNER: 4, OrgRole.ADMIN: 3, OrgRole.AUDITOR: 3, OrgRole.MANAGER: 2, OrgRole.MEMBER: 1}


def _rank(role: str) -> int:
    return RANK[OrgRole(role)]


def _read(membership: Membership, user: User) -> schemas.MemberRead:
    return schemas.MemberRead(
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=OrgRole(membership.role),
        status=MembershipStatus(membership.status),
        created_at=membership.created_at,
    )


def _require_can_grant(ctx: OrgContext, role: OrgRole) -> None:
    if _rank(role) > _rank(ctx.membership.role):
        raise Forbidden(f"A {ctx.membership.role} cannot grant the role '{role.value}'.")


def _require_outranks_or_equals(ctx: OrgContext, target: Membership) -> None:
    if _rank(target.role) > _rank(ctx.membership.role):
        raise Forbidden(f"A {ctx.membership.role} cannot change a member whose role is '{target.role}'.")


async def _owner_count(ctx: OrgContext) -> int:
    count = await ctx.session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(
            col(Membership.org_id) == ctx.org_id,
            col(Membership.role) == OrgRole.OWNER.value,
            # A pending invitation is not an owner who can run the organization yet.
            col(Membership.status) == MembershipStatus.ACTIVE.value,
        )
    )
    return int(count or 0)


async def _get(ctx: OrgContext, user_id: uuid.UUID, *, lock: bool = False) -> tuple[Membership, User]:
    query = (
        select(Membership, User)
        .join(User, col(User.id) == col(Membership.user_id))
        .where(col(Membership.org_id) == ctx.org_id, col(Membership.user_id) == user_id)
    )
    row = (await ctx.session.execute(query.with_for_update(of=Membership) if lock else query)).first()
    if row is None:
        raise NotFound("No such member in this organization.")
    return row[0], row[1]


async def list_members(
    ctx: OrgContext, page: PageParams, *, search: str | None = None
) -> tuple[list[schemas.MemberRead], int]:
    authz.require(ctx, "member:list")
    base = (
        select(Membership, User)
        .join(User, col(User.id) == col(Membership.user_id))
        .where(col(Membership.org_id) == ctx.org_id)
    )
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        base = base.where(or_(col(User.email).ilike(f"%{escaped}%"), col(User.display_name).ilike(f"%{escaped}%")))
    total = await ctx.session.scalar(select(func.count()).select_from(base.subquery()))
    rows = await ctx.session.execute(base.order_by(col(User.email), col(User.id)).limit(page.limit).offset(page.offset))
    return [_read(membership, user) for membership, user in rows.all()], int(total or 0)


async def invite(ctx: OrgContext, idp: IdentityProvider, data: schemas.Invitation) -> schemas.MemberRead:
    """Create or link the person in Keycloak, record the pending membership, send Keycloak's email.

    Safe to retry: an existing account is linked by email, an existing invitation is re-sent, and if
    Keycloak fails midway an account created by this call is removed and the transaction rolls back."""
    authz.require(ctx, "member:invite")
    _require_can_grant(ctx, data.role)
    email = data.email.lower()
    person = await idp.find_or_create(email)
    try:
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
                role=data.role.value,
                status=MembershipStatus.INVITED.value,
                invited_by=ctx.user.id,
            )
            ctx.session.add(membership)
            action, before = "membership.invited", None
        else:
            membership, before = existing, {"role": existing.role}
            membership.role, membership.updated_at = data.role.value, utcnow()
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
        # Keycloak last: everything that can fail in our database has already failed or succeeded.
        await idp.send_invitation(person)
    except BaseException:
        if person.created:
            await idp.delete(person.id)
        raise
    user = await ctx.session.get(User, person.id)
    assert user is not None
    return _read(membership, user)


async def change_role(ctx: OrgContext, user_id: uuid.UUID, data: schemas.RoleChange) -> schemas.MemberRead:
    authz.require(ctx, "member:update")
    membership, user = await _get(ctx, user_id, lock=True)
    _require_outranks_or_equals(ctx, membership)
    _require_can_grant(ctx, data.role)
    if membership.role == data.role.value:
        return _read(membership, user)
    if membership.role == OrgRole.OWNER and await _owner_count(ctx) <= 1:
        raise Conflict("The last owner cannot be demoted; make someone else owner first.")
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
    leaving = user_id == ctx.user.id
    authz.require(ctx, "member:leave" if leaving else "member:remove")
    membership, _ = await _get(ctx, user_id, lock=True)
    if not leaving:
        _require_outranks_or_equals(ctx, membership)
    if membership.role == OrgRole.OWNER and await _owner_count(ctx) <= 1:
        raise Conflict("The last owner cannot be removed; make someone else owner first.")
    await ctx.session.delete(membership)
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="membership.removed",
        resource_type="membership",
        resource_id=user_id,
        before={"role": membership.role, "status": membership.status},
    )
