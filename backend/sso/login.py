"""What an SSO sign-in does here: just-in-time membership and claim-to-role mappings.

The request path (``tenancy/context.py``) compares the token's SSO digest (identity provider, email,
groups; computed once per token) with the one stored on the person's user row, and calls
:func:`apply_login` only when they differ: a first SSO sign-in, changed groups, or a change here that
forgot the stored digests (:func:`forget`). Everything else costs that one comparison.

:func:`apply_login` runs in the request's transaction, before the request's own work:

1. ``app_sso_login_org(alias, domain)`` names the organization whose enabled provider brokered the
   sign-in, when it holds the person's email domain *verified* (nothing else gets a membership).
2. With that organization's tenant bound and its membership changes serialised: no membership yet →
   an active one with the role the mappings give (or the organization's default role); a pending
   invitation → accepted; a suspended one (SCIM) → left alone. When the organization has mappings, an
   active member's role follows them on every changed sign-in: the highest matching role wins, or the
   default role when none matches; never above :data:`ROLE_CAP`, never taking the role of the last owner.
   The groups are the token's ``groups`` claim together with the person's SCIM groups in that
   organization (``backend/scim/groups.py``), so a sign-in keeps what SCIM gave.
3. Each change is an audit event with the person as actor and ``via: sso``; the digest is stored.

:func:`apply_scim_groups` applies the same rules (:class:`RoleRules`, :func:`follow_groups`) when the
organization's SCIM groups change, with the SCIM groups alone (``via: scim``).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.core import audit, hooks
from backend.core.auth import Principal
from backend.core.db import bind_tenant
from backend.core.models import utcnow
from backend.scim import service as scim
from backend.sso.models import SsoRoleMapping, SsoSettings
from backend.tenancy import mirror
from backend.tenancy.models import Membership
from backend.tenancy.roles import MembershipStatus, OrgRole

log = structlog.get_logger(__name__)

#: The highest role single sign-on grants, by the default role or a mapping: an identity provider's
#: group never makes anyone owner (owners are made by owners, through the API).
ROLE_CAP = OrgRole.ADMIN
#: Among roles of one rank (admin and auditor), the one that may do more wins.
_PREFERENCE = {OrgRole.OWNER: 5, OrgRole.ADMIN: 4, OrgRole.AUDITOR: 3, OrgRole.MANAGER: 2, OrgRole.MEMBER: 1}

_LOGIN_ORG = text("SELECT app_sso_login_org(:alias, :domain)")
_SET_DIGEST = text("UPDATE users SET sso_digest = :digest WHERE id = :user_id")
_FORGET = text("SELECT app_sso_forget(:org_id)")
# The same lock as tenancy/memberships.py's: SSO changes queue behind (and ahead of) the API's.
_LOCK_MEMBERSHIPS = text("SELECT pg_advisory_xact_lock(hashtextextended('memberships:' || :org_id, 0))")
VIA = {"via": "sso"}


def within_cap(role: OrgRole) -> bool:
    return role.rank <= ROLE_CAP.rank and role != OrgRole.OWNER


def best_role(roles: Iterable[OrgRole]) -> OrgRole | None:
    """The highest of ``roles`` (None for none)."""
    return max(roles, key=lambda role: (role.rank, _PREFERENCE[role]), default=None)


@dataclass(frozen=True)
class RoleRules:
    """An organization's SSO role rules: its default role (held within :data:`ROLE_CAP`) and its mappings."""

    default: OrgRole
    mappings: list[SsoRoleMapping]

    def wanted(self, groups: Collection[str]) -> tuple[OrgRole, list[str]]:
        """The role ``groups`` map to (the highest matching role within the cap, else the default role)
        and the group values that matched."""
        matched = [m for m in self.mappings if m.claim == "groups" and m.value in groups]
        mapped = best_role(OrgRole(m.role) for m in matched if within_cap(OrgRole(m.role)))
        return mapped or self.default, sorted({m.value for m in matched})


async def role_rules(session: AsyncSession, org_id: uuid.UUID) -> RoleRules:
    settings = await session.get(SsoSettings, org_id)
    default = OrgRole(settings.default_role) if settings else OrgRole.MEMBER
    if not within_cap(default):
        default = ROLE_CAP
    mappings = list(await session.scalars(select(SsoRoleMapping).where(col(SsoRoleMapping.org_id) == org_id)))
    return RoleRules(default=default, mappings=mappings)


async def follow_groups(
    session: AsyncSession, org_id: uuid.UUID, membership: Membership, rules: RoleRules, groups: Collection[str]
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Give an active membership (locked by the caller) the role its ``groups`` map to. Nothing changes
    without mappings (the API's role changes stand), for a suspended or invited membership, or when it
    would take the owner role from the last active owner. Answers the change (before, after) or None."""
    if not rules.mappings or membership.status != MembershipStatus.ACTIVE.value:
        return None
    wanted, matched = rules.wanted(groups)
    if membership.role == wanted.value:
        return None
    if membership.role == OrgRole.OWNER.value and await _last_owner(session, org_id):
        log.info("sso_role_kept_last_owner", org_id=str(org_id), wanted=wanted.value)
        return None
    before = {"role": membership.role}
    membership.role, membership.updated_at = wanted.value, utcnow()
    await session.flush()
    return before, {"role": wanted.value, "groups": matched}


async def apply_scim_groups(
    session: AsyncSession, org_id: uuid.UUID, people: Mapping[uuid.UUID, Collection[str]]
) -> None:
    """The organization's SCIM groups changed: give each of ``people`` (user id -> the names of their
    SCIM groups now) the role those groups map to, by the rules a sign-in follows, in the caller's
    transaction (tenant bound). Each change is a ``membership.role_changed`` audit event with no acting
    user and ``via: scim``."""
    if not people:
        return
    await session.execute(_LOCK_MEMBERSHIPS, {"org_id": str(org_id)})
    rules = await role_rules(session, org_id)
    if not rules.mappings:
        return
    for user_id in sorted(people):
        membership = await session.get(Membership, (org_id, user_id), with_for_update=True)
        if membership is None:
            continue
        changed = await follow_groups(session, org_id, membership, rules, people[user_id])
        if changed is None:
            continue
        before, after = changed
        await audit.record(
            session,
            org_id=org_id,
            actor=None,
            action="membership.role_changed",
            resource_type="membership",
            resource_id=user_id,
            before=before,
            after={**after, "via": "scim"},
        )


def email_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return email.rpartition("@")[2].lower() or None


async def forget(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Make the next request of the organization's members (and of people at its verified domains)
    apply their SSO claims again: after mappings, domains or providers changed."""
    await session.execute(_FORGET, {"org_id": org_id})


async def apply_login(session: AsyncSession, principal: Principal) -> None:
    """Apply an SSO token's claims (see the module's docstring). Binds the tenant of the provider's
    organization; the caller enters its own again afterwards."""
    assert principal.identity_provider is not None
    domain = email_domain(principal.email)
    org_id: uuid.UUID | None = None
    if domain is not None:
        org_id = await session.scalar(_LOGIN_ORG, {"alias": principal.identity_provider, "domain": domain})
    if org_id is not None:
        await bind_tenant(session, org_id=org_id, user_id=principal.subject)
        await _apply(session, org_id, principal)
    else:
        log.info("sso_login_no_organization", identity_provider=principal.identity_provider, domain=domain)
    await session.execute(_SET_DIGEST, {"digest": principal.sso_digest, "user_id": principal.subject})


async def _record(
    session: AsyncSession,
    org_id: uuid.UUID,
    principal: Principal,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any],
) -> None:
    await audit.record(
        session,
        org_id=org_id,
        actor=principal,
        action=action,
        resource_type="membership",
        resource_id=principal.subject,
        before=before,
        after={**after, **VIA, "identity_provider": principal.identity_provider},
    )


async def _last_owner(session: AsyncSession, org_id: uuid.UUID) -> bool:
    owners = await session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(
            col(Membership.org_id) == org_id,
            col(Membership.role) == OrgRole.OWNER.value,
            col(Membership.status) == MembershipStatus.ACTIVE.value,
        )
    )
    return int(owners or 0) <= 1


async def _apply(session: AsyncSession, org_id: uuid.UUID, principal: Principal) -> None:
    await session.execute(_LOCK_MEMBERSHIPS, {"org_id": str(org_id)})
    rules = await role_rules(session, org_id)
    # The person's SCIM groups in this organization count as values of the token's ``groups`` claim, so
    # a sign-in does not undo a role the identity provider's SCIM pushed.
    scim_groups = await scim.group_names(session, org_id, [principal.subject])
    groups = set(principal.groups) | scim_groups.get(principal.subject, set())
    membership = await session.get(Membership, (org_id, principal.subject), with_for_update=True)
    if membership is None:
        wanted, matched_values = rules.wanted(groups)
        membership = Membership(
            org_id=org_id, user_id=principal.subject, role=wanted.value, status=MembershipStatus.ACTIVE.value
        )
        session.add(membership)
        await session.flush()
        await _record(
            session,
            org_id,
            principal,
            "membership.provisioned",
            None,
            {"status": membership.status, "role": membership.role, "email": principal.email, "groups": matched_values},
        )
        hooks.emit(org_id, "member.joined", user_id=principal.subject, role=membership.role)
        mirror.request(org_id)
        return
    if membership.status == MembershipStatus.SUSPENDED.value:
        return  # the provider's SCIM deactivated them: a sign-in does not undo it
    if membership.status == MembershipStatus.INVITED.value:
        before = {"status": membership.status, "role": membership.role}
        membership.status, membership.invite_nonce, membership.updated_at = (
            MembershipStatus.ACTIVE.value,
            None,
            utcnow(),
        )
        await session.flush()
        await _record(
            session,
            org_id,
            principal,
            "membership.accepted",
            before,
            {"status": membership.status, "role": membership.role},
        )
        hooks.emit(org_id, "member.joined", user_id=principal.subject, role=membership.role)
        mirror.request(org_id)
    changed = await follow_groups(session, org_id, membership, rules, groups)
    if changed is not None:
        await _record(session, org_id, principal, "membership.role_changed", *changed)
