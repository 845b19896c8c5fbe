"""The guard: the one place that decides whether the caller may do something here.

Every service function starts with :func:`require`. It asks Casbin whether any role the caller holds
in this organization (and project) grants the permission, and refuses every permission that writes
while the organization or project is archived. No service repeats either rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import structlog

from backend.core.authz import Authorizer, Grant
from backend.core.errors import Conflict, Forbidden
from backend.tenancy.context import OrgContext
from backend.tenancy.roles import ProjectRole

log = structlog.get_logger(__name__)

POLICY_PATH = Path(__file__).parent / "policy.csv"
#: The process-wide policy. ``python -m backend authz reload`` (or SIGHUP) re-reads it everywhere.
policy = Authorizer(POLICY_PATH)

#: Actions that change nothing; every other action writes and is refused in an archived scope.
READ_ACTIONS = frozenset({"read", "list"})


def writes(permission: str) -> bool:
    return permission.partition(":")[2] not in READ_ACTIONS


def require(ctx: OrgContext, permission: str, *, even_if_archived: bool = False) -> None:
    """403 unless a role the caller holds here grants ``permission``; 409 if it writes in an archived
    organization or project. ``even_if_archived`` is for the few writes that are about the archived
    state itself (scheduling or cancelling an organization's deletion, docs/operations.md)."""
    subjects = ctx.role_subjects()
    if not policy.allows(subjects, permission):
        log.info("authz_denied", permission=permission, roles=subjects)
        raise Forbidden(f"Your role here does not allow '{permission}'.", permission=permission)
    if writes(permission) and not even_if_archived:
        reason = ctx.read_only_reason()
        if reason is not None:
            raise Conflict(reason)


def allowed(ctx: OrgContext, permission: str) -> bool:
    """What :func:`require` would decide, without raising."""
    if not policy.allows(ctx.role_subjects(), permission):
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


def explain(ctx: OrgContext, permission: str) -> Decision:
    """Why :func:`require` allows or refuses ``permission`` here, in words and policy lines."""
    roles = ctx.role_subjects()
    found = policy.explain(roles, permission)
    read_only = ctx.read_only_reason() if writes(permission) else None
    if found.grant is not None:
        chain = " → ".join(found.grant.path)
        reason = (
            f"Granted: you hold {found.grant.subject}, which reaches it through {chain} ({found.grant.policy_line})."
        )
        if read_only:
            reason = f"{read_only} Your role would allow it: {chain} ({found.grant.policy_line})."
    elif found.granted_to:
        holders = ", ".join(found.granted_to)
        reason = f"Refused: none of your roles ({', '.join(roles)}) is or inherits a role granted it ({holders})."
    else:
        reason = "Refused: no policy line grants this permission to any role."
    return Decision(
        permission=permission,
        allowed=found.allowed and read_only is None,
        roles=roles,
        grant=found.grant,
        granted_to=found.granted_to,
        read_only_reason=read_only,
        reason=reason,
    )
