"""Memberships: the rank rules, the last-owner rule and the invitation lifecycle.

Rules beyond the permission itself: nobody grants a role above their own, nobody changes or removes
someone ranked above them, and an organization always keeps at least one active owner (an invited
owner cannot run the organization yet, so does not count). Membership changes in one organization are
serialised by a transaction-scoped advisory lock, so two concurrent demotions cannot both pass the
last-owner check.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlmodel import col

from backend.core import audit, hooks
from backend.core.errors import Conflict, Forbidden, NotFound
from backend.core.models import utcnow
from backend.tenancy import guard, mirror
from backend.tenancy.context import OrgContext, UserContext
from backend.tenancy.models import Membership, Organization
from backend.tenancy.roles import MembershipStatus, OrgRole

_LOCK_MEMBERSHIPS = text("SELECT pg_advisory_xact_lock(hashtextextended('memberships:' || :org_id, 0))")


def require_can_grant(ctx: OrgContext, role: OrgRole) -> None:
    if role.rank > ctx.role.rank:
        raise Forbidden(f"A {ctx.role} cannot grant the role '{role.value}'.")


def require_reaches(ctx: OrgContext, target: OrgRole) -> None:
    if target.rank > ctx.role.rank:
        raise Forbidden(f"A {ctx.role} cannot change a member whose role is '{target.value}'.")


async def lock(ctx: OrgContext) -> None:
    """Serialise membership changes in this organization until the transaction ends."""
    await ctx.session.execute(_LOCK_MEMBERSHIPS, {"org_id": str(ctx.org_id)})


async def require_another_owner(ctx: OrgContext, target: Membership, *, verb: str) -> None:
    """Refuse to take the owner role from ``target`` when no other active owner would remain. Call
    after :func:`lock`."""
    if target.role != OrgRole.OWNER or target.status != MembershipStatus.ACTIVE:
        return
    owners = await ctx.session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(
            col(Membership.org_id) == ctx.org_id,
            col(Membership.role) == OrgRole.OWNER.value,
            col(Membership.status) == MembershipStatus.ACTIVE.value,
        )
    )
    if int(owners or 0) <= 1:
        raise Conflict(f"The last owner cannot be {verb}; make someone else owner first.")


@dataclass(frozen=True, slots=True)
class PendingInvitation:
    org_id: uuid.UUID
    org_slug: str
    org_name: str
    role: OrgRole
    invited_by: uuid.UUID | None
    invited_at: datetime


async def pending_invitations(ctx: UserContext) -> list[PendingInvitation]:
    """Invitations waiting for the caller's answer, newest first."""
    rows = await ctx.session.execute(
        select(Membership, Organization)
        .join(Organization, col(Organization.id) == col(Membership.org_id))
        .where(
            col(Membership.user_id) == ctx.user_id,
            col(Membership.status) == MembershipStatus.INVITED.value,
            col(Organization.archived_at).is_(None),
        )
        .order_by(col(Membership.created_at).desc())
    )
    return [
        PendingInvitation(
            org_id=org.id,
            org_slug=org.slug,
            org_name=org.name,
            role=OrgRole(membership.role),
            invited_by=membership.invited_by,
            invited_at=membership.created_at,
        )
        for membership, org in rows.all()
    ]


async def _invitation(ctx: OrgContext) -> Membership:
    membership = await ctx.session.get(Membership, (ctx.org_id, ctx.user_id), with_for_update=True)
    if membership is None or membership.status != MembershipStatus.INVITED:
        raise NotFound("No pending invitation to this organization.")
    return membership


async def accept(ctx: OrgContext) -> Membership:
    """The invitee joins with the invited role."""
    guard.require(ctx, "invitation:accept")
    await lock(ctx)
    membership = await _invitation(ctx)
    membership.status, membership.updated_at = MembershipStatus.ACTIVE.value, utcnow()
    membership.invite_nonce = None  # the invitation link is spent
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="membership.accepted",
        resource_type="membership",
        resource_id=ctx.user_id,
        before={"status": MembershipStatus.INVITED.value},
        after={"status": membership.status, "role": membership.role},
    )
    hooks.emit(ctx.org_id, "member.joined", user_id=ctx.user_id, role=membership.role)
    mirror.request(ctx.org_id)  # a Keycloak organization member from now on
    return membership


async def decline(ctx: OrgContext) -> None:
    """The invitee says no: the pending membership is removed."""
    guard.require(ctx, "invitation:decline")
    await lock(ctx)
    membership = await _invitation(ctx)
    await ctx.session.delete(membership)
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="membership.declined",
        resource_type="membership",
        resource_id=ctx.user_id,
        before={"status": membership.status, "role": membership.role},
    )
