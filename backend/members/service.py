"""Members of an organization: invite (the account through Keycloak, the email from the platform),
resend and revoke invitations, list, change roles, remove; invitations answered by the invitee, and
the public invitation page's two questions (what is this link, and please email me a set-password link).
The rank and last-owner rules live in :mod:`backend.tenancy.memberships`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from redis.asyncio import Redis
from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from backend.core import audit, hooks, mail
from backend.core.db import Database
from backend.core.errors import Conflict, NotFound, TooManyRequests
from backend.core.models import utcnow
from backend.core.pagination import Page, PageParams, paginate
from backend.core.revocation import Revocations
from backend.members import links, schemas
from backend.members.accounts import Revoker
from backend.members.keycloak import Account
from backend.members.keycloak import IdentityProvider as IdentityProvider
from backend.members.keycloak import Person as Person
from backend.settings import get_settings
from backend.sso import service as sso
from backend.tenancy import guard, memberships, mirror
from backend.tenancy.context import OrgContext, OrgTransactions, UserContext
from backend.tenancy.models import Membership, Organization, User
from backend.tenancy.roles import MembershipStatus, OrgRole

log = structlog.get_logger(__name__)

_emails = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


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


async def invite(
    org: OrgTransactions, idp: IdentityProvider, data: schemas.Invitation, *, app_url: str
) -> schemas.MemberRead:
    """Create or link the person in Keycloak, record the pending membership, email the invitation.

    Three steps, so that no pooled database connection waits on Keycloak: (1) a short transaction
    authorizes and validates; (2) Keycloak finds or creates the account with no transaction open; (3) a
    second short transaction authorizes again (the caller's role may have changed meanwhile), records the
    membership and its audit event, and queues the platform's invitation email in its outbox (so a
    rolled-back invitation sends nothing). Safe to retry: an existing account is linked by email and an
    existing invitation gets a fresh email (the older link stops working). If anything fails after
    Keycloak created an account, the account is deleted again and nothing is recorded."""
    email = data.email.lower()
    async with org.transaction() as ctx:
        guard.require(ctx, "member:invite")
        memberships.require_can_grant(ctx, data.role)
        await _refuse_active_member(ctx, email)
    person = await idp.find_or_create(email)
    try:
        async with org.transaction() as ctx:
            guard.require(ctx, "member:invite")
            memberships.require_can_grant(ctx, data.role)
            membership, user = await _record_invitation(ctx, person, email, data.role)
            await _email_invitation(ctx, membership, email, app_url)
            return _read(membership, user)
    except BaseException:
        if person.created:
            await idp.delete(person.id)
        raise


async def _record_invitation(ctx: OrgContext, person: Person, email: str, role: OrgRole) -> tuple[Membership, User]:
    existing = await ctx.session.get(Membership, (ctx.org_id, person.id), with_for_update=True)
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
        membership.invited_by = ctx.user_id
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
    return membership, user


def _inviter_name(user: User | None) -> str:
    if user is None:
        return "Someone"
    return user.display_name or user.email or user.username or "Someone"


async def _email_invitation(ctx: OrgContext, membership: Membership, email: str, app_url: str) -> None:
    """A new link nonce (older links stop working) and the invitation email, sent after commit."""
    settings = get_settings()
    membership.invite_nonce, membership.invite_sent_at = uuid.uuid4(), utcnow()
    await ctx.session.flush()
    claims = links.new_claims(
        ctx.org_id, membership.user_id, membership.invite_nonce, days=settings.invitation_link_days
    )
    inviter = _inviter_name(await ctx.session.get(User, ctx.user_id))
    values = {
        "sso": await sso.required_sign_in(ctx.session, ctx.org_id, email) is not None,
        "inviter": inviter,
        "org_name": ctx.org.name,
        "role": membership.role,
        "link": f"{app_url.rstrip('/')}/join/{links.sign(settings.invitation_link_secret, claims)}",
        "expires": datetime.fromtimestamp(claims.expires_at, UTC).strftime("%d %B %Y, %H:%M UTC"),
    }
    text = _emails.get_template("invitation.txt").render(**values)
    html = _emails.get_template("invitation.html").render(**values)
    mail.enqueue(email, f"{inviter} invited you to {ctx.org.name} on Worktime", text, html)


async def _pending(ctx: OrgContext, user_id: uuid.UUID) -> tuple[Membership, User]:
    """The invitation of ``user_id`` here, locked: 404 when there is none, 409 when already a member."""
    await memberships.lock(ctx)
    membership, user = await _get(ctx, user_id)
    if membership.status == MembershipStatus.ACTIVE:
        raise Conflict("This person has already joined; there is no pending invitation.")
    return membership, user


async def resend_invitation(ctx: OrgContext, user_id: uuid.UUID, *, app_url: str) -> schemas.MemberRead:
    """A fresh invitation email; the previous link stops working. At most one per
    ``invitation_resend_seconds`` per invitation."""
    guard.require(ctx, "invitation:resend")
    membership, user = await _pending(ctx, user_id)
    memberships.require_can_grant(ctx, OrgRole(membership.role))
    wait = _resend_wait(membership.invite_sent_at)
    if wait > 0:
        raise TooManyRequests(
            f"An invitation email was sent to this person moments ago; resend again in {wait} s.", retry_after=wait
        )
    if not user.email:
        raise Conflict("This person has no email address to send the invitation to.")
    await _email_invitation(ctx, membership, user.email, app_url)
    membership.updated_at = utcnow()
    await audit.record_in(
        ctx,
        action="membership.invitation_resent",
        resource_type="membership",
        resource_id=user_id,
        after={"role": membership.role, "email": user.email},
    )
    return _read(membership, user)


def _resend_wait(last: datetime | None) -> int:
    if last is None:
        return 0
    due = last + timedelta(seconds=get_settings().invitation_resend_seconds)
    return max(0, int((due - utcnow()).total_seconds() + 0.999))


async def revoke_invitation(ctx: OrgContext, user_id: uuid.UUID) -> None:
    """Withdraw a pending invitation: the membership row goes, and with it every link in its emails.
    (The Keycloak account stays: it may be linked to other organizations.)"""
    guard.require(ctx, "invitation:revoke")
    membership, user = await _pending(ctx, user_id)
    memberships.require_reaches(ctx, OrgRole(membership.role))
    await ctx.session.delete(membership)
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="membership.invitation_revoked",
        resource_type="membership",
        resource_id=user_id,
        before={"role": membership.role, "status": membership.status, "email": user.email},
    )


async def list_invitations(ctx: OrgContext) -> list[schemas.PendingInvitationRead]:
    """The organization's pending invitations, newest first."""
    guard.require(ctx, "invitation:list")
    rows = await ctx.session.execute(
        select(Membership, User)
        .join(User, col(User.id) == col(Membership.user_id))
        .where(col(Membership.org_id) == ctx.org_id, col(Membership.status) == MembershipStatus.INVITED.value)
        .order_by(col(Membership.created_at).desc(), col(Membership.user_id))
    )
    return [
        schemas.PendingInvitationRead(
            user_id=user.id,
            email=user.email,
            role=OrgRole(membership.role),
            invited_by=membership.invited_by,
            invited_at=membership.created_at,
            last_sent_at=membership.invite_sent_at,
        )
        for membership, user in rows.all()
    ]


# --- the public invitation page (no signed-in caller: the signed link is the credential) ----------


@dataclass(frozen=True)
class LinkedInvitation:
    """What an invitation link shows: who invited whom to what, and the state of their account."""

    org_id: uuid.UUID
    user_id: uuid.UUID
    org_name: str
    inviter: str
    role: OrgRole
    email: str
    account: Account | None
    #: The organization requires single sign-on for this address: its provider's alias (the page
    #: offers "sign in with single sign-on", never "set your password").
    sso_hint: str | None = None


def link_id(token: str) -> str | None:
    """A stable id for an authentic, unexpired link (for per-link rate limits), or ``None``: no I/O."""
    claims = links.verify(get_settings().invitation_link_secret, token)
    return str(claims.nonce) if claims else None


async def invitation_for_link(db: Database, idp: IdentityProvider, token: str) -> LinkedInvitation | None:
    """The pending invitation a link stands for, or ``None`` when the link is forged, expired, or no
    longer the latest for a still-pending invitation (re-sent, accepted, declined or revoked)."""
    claims = links.verify(get_settings().invitation_link_secret, token)
    if claims is None:
        return None
    async with db.unit_of_work(org_id=claims.org_id) as session:
        row = (
            await session.execute(
                select(Membership, Organization, User)
                .join(Organization, col(Organization.id) == col(Membership.org_id))
                .join(User, col(User.id) == col(Membership.user_id))
                .where(
                    col(Membership.org_id) == claims.org_id,
                    col(Membership.user_id) == claims.user_id,
                    col(Membership.status) == MembershipStatus.INVITED.value,
                    col(Membership.invite_nonce) == claims.nonce,
                    col(Organization.archived_at).is_(None),
                )
            )
        ).first()
        if row is None:
            return None
        membership, org, user = row
        inviter = await session.get(User, membership.invited_by) if membership.invited_by else None
        sso_hint = await sso.required_sign_in(session, org.id, user.email or "")
    account = await idp.account_state(claims.user_id)
    if account is None or not account.enabled:
        return None
    return LinkedInvitation(
        org_id=org.id,
        user_id=user.id,
        org_name=org.name,
        inviter=_inviter_name(inviter),
        role=OrgRole(membership.role),
        email=user.email or user.username or "",
        account=account,
        sso_hint=sso_hint,
    )


async def send_password_setup(idp: IdentityProvider, invitation: LinkedInvitation, *, redirect_uri: str) -> bool:
    """Ask Keycloak to email the invitee its set-your-password link (short-lived, returning to the app).
    ``False`` when the account is already set up (then the person signs in instead)."""
    account = invitation.account
    if account is None or not account.needs_setup or invitation.sso_hint is not None:
        return False
    await idp.send_setup_email(
        account, redirect_uri=redirect_uri, lifespan_seconds=get_settings().invitation_setup_link_seconds
    )
    log.info("invitation_setup_email_requested", org_id=str(invitation.org_id), user_id=str(invitation.user_id))
    return True


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
    if membership.status == MembershipStatus.ACTIVE:  # a pending invitation never joined
        hooks.emit(
            ctx.org_id, "member.removed", user_id=user_id, role=membership.role, left=leaving, removed_by=ctx.user_id
        )
    mirror.request(ctx.org_id)  # no longer a Keycloak organization member


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


async def end_sessions_now(redis: Redis, revocations: Revocations, user_ids: list[uuid.UUID]) -> None:
    """End these people's Keycloak sessions and web sessions on every process now (the back-channel
    revocation by subject): access tokens issued before are refused on their next request."""
    await Revoker(redis, revocations).end(user_ids)


def normalized_email(value: str) -> str:
    """The address as an invitation accepts it, lower-cased (``ValueError`` when it is not one)."""
    return schemas.valid_email(value).lower()
