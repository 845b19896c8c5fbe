"""The guard: the one place that decides whether the caller may do something here.

Every service function starts with :func:`require`. It asks Casbin whether any role the caller holds
in this organization (and project) grants the permission, refuses every permission that writes
while the organization or project is archived, and, in an organization that requires it
(``require_mfa_for_admins``), refuses an owner or admin whose token shows no second factor everything a
member could not do. No service repeats any of these rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import structlog

from backend.core.authz import Authorizer, Grant
from backend.core.errors import Conflict, Forbidden, SecondFactorRequired
from backend.settings import get_settings
from backend.tenancy.context import OrgContext
from backend.tenancy.roles import OrgRole, ProjectRole

log = structlog.get_logger(__name__)

POLICY_PATH = Path(__file__).parent / "policy.csv"
#: The process-wide policy. ``python -m backend authz reload`` (or SIGHUP) re-reads it everywhere.
policy = Authorizer(POLICY_PATH)

#: Actions that change nothing; every other action writes and is refused in an archived scope.
READ_ACTIONS = frozenset({"read", "list"})


def writes(permission: str) -> bool:
    return permission.partition(":")[2] not in READ_ACTIONS


#: The roles the organization's second-factor rule applies to.
MFA_ROLES = frozenset({OrgRole.OWNER, OrgRole.ADMIN})
#: Keycloak's required action that makes a person set up an authenticator app at their next sign-in.
CONFIGURE_TOTP = "CONFIGURE_TOTP"


def _member_subjects(ctx: OrgContext) -> tuple[str, ...]:
    """The caller's subjects with their organization role lowered to member (project roles kept)."""
    own = ctx.role.subject
    return tuple(OrgRole.MEMBER.subject if subject == own else subject for subject in ctx.role_subjects())


def needs_second_factor(ctx: OrgContext, permission: str) -> bool:
    """The organization requires a second factor of its owners and admins, the caller is one, their token
    shows none (a personal token never does), and a member could not do ``permission``. Called only once
    the role allows it; costs nothing unless all three cheap conditions hold."""
    return second_factor_withheld(ctx) and not policy.allows(_member_subjects(ctx), permission)


def second_factor_withheld(ctx: OrgContext) -> bool:
    """Is the second-factor rule lowering this caller to a member's rights here?"""
    return ctx.org.require_mfa_for_admins and ctx.role in MFA_ROLES and not ctx.principal.has_second_factor


@cache
def enrollment() -> dict[str, str]:
    """Where a person sets up a second factor: the account console's "Signing in" page, or the required
    action an administrator (or the person's next sign-in) triggers."""
    return {
        "account_console": f"{get_settings().keycloak_issuer}/account/account-security/signing-in",
        "required_action": CONFIGURE_TOTP,
    }


def _second_factor_required(permission: str) -> SecondFactorRequired:
    return SecondFactorRequired(
        f"This organization requires owners and admins to sign in with a second factor for '{permission}'. "
        "Set up an authenticator app (one-time codes) under 'Signing in' in your account console, then "
        "sign in again.",
        permission=permission,
        enroll=enrollment(),
    )


def require(ctx: OrgContext, permission: str, *, even_if_archived: bool = False) -> None:
    """403 unless a role the caller holds here grants ``permission``; 403 (second-factor-required) if the
    organization requires a second factor this owner's or admin's token lacks and a member could not do
    it; 409 if it writes in an archived organization or project. ``even_if_archived`` is for the few
    writes that are about the archived state itself (scheduling or cancelling an organization's deletion,
    docs/operations.md)."""
    subjects = ctx.role_subjects()
    if not policy.allows(subjects, permission):
        log.info("authz_denied", permission=permission, roles=subjects)
        raise Forbidden(f"Your role here does not allow '{permission}'.", permission=permission)
    require_state(ctx, permission, even_if_archived=even_if_archived)


def holds(ctx: OrgContext, permission: str) -> bool:
    """A role the caller holds here grants ``permission``, whatever the scope's state (archived, second
    factor): for a grant decided elsewhere, followed by :func:`require_state`."""
    return policy.allows(ctx.role_subjects(), permission)


def require_state(ctx: OrgContext, permission: str, *, even_if_archived: bool = False) -> None:
    """What :func:`require` checks past the roles: the second factor and the archived scope. For a
    service that found the grant through another scope (a lead's project) and acts in this one."""
    if needs_second_factor(ctx, permission):
        log.info("authz_denied", permission=permission, roles=ctx.role_subjects(), reason="second_factor_required")
        raise _second_factor_required(permission)
    if writes(permission) and not even_if_archived:
        reason = ctx.read_only_reason()
        if reason is not None:
            raise Conflict(reason)


def allowed(ctx: OrgContext, permission: str) -> bool:
    """What :func:`require` would decide, without raising."""
    if not policy.allows(ctx.role_subjects(), permission) or needs_second_factor(ctx, permission):
        return False
    return not (writes(permission) and ctx.read_only_reason() is not None)


def project_scoped(permission: str) -> bool:
    """Decided per project: some project role's policy line grants it."""
    return permission in _project_permissions()


_project_cache: tuple[int, frozenset[str]] = (-1, frozenset())


def _project_permissions() -> frozenset[str]:
    global _project_cache
    version, cached = _project_cache
    if version != policy.version:
        project_subjects = {role.subject for role in ProjectRole}
        lines = policy.enforcer.get_policy()
        cached = frozenset(f"{obj}:{act}" for sub, obj, act in lines if sub in project_subjects)
        _project_cache = (policy.version, cached)
    return cached


@dataclass(frozen=True, slots=True)
class Decision:
    permission: str
    allowed: bool
    roles: tuple[str, ...]
    grant: Grant | None
    granted_to: tuple[str, ...]
    read_only_reason: str | None
    reason: str
    second_factor_required: bool = False


def explain(ctx: OrgContext, permission: str) -> Decision:
    """Why :func:`require` allows or refuses ``permission`` here, in words and policy lines."""
    roles = ctx.role_subjects()
    found = policy.explain(roles, permission)
    read_only = ctx.read_only_reason() if writes(permission) else None
    second_factor = found.allowed and needs_second_factor(ctx, permission)
    if found.grant is not None:
        chain = " → ".join(found.grant.path)
        reason = (
            f"Granted: you hold {found.grant.subject}, which reaches it through {chain} ({found.grant.policy_line})."
        )
        if second_factor:
            reason = (
                "Refused: this organization requires owners and admins to sign in with a second factor, and "
                f"this sign-in used none. Your role would allow it: {chain} ({found.grant.policy_line})."
            )
        elif read_only:
            reason = f"{read_only} Your role would allow it: {chain} ({found.grant.policy_line})."
    elif found.granted_to:
        holders = ", ".join(found.granted_to)
        reason = f"Refused: none of your roles ({', '.join(roles)}) is or inherits a role granted it ({holders})."
    else:
        reason = "Refused: no policy line grants this permission to any role."
    return Decision(
        permission=permission,
        allowed=found.allowed and read_only is None and not second_factor,
        roles=roles,
        grant=found.grant,
        granted_to=found.granted_to,
        read_only_reason=read_only,
        reason=reason,
        second_factor_required=second_factor,
    )
