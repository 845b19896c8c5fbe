"""Casbin-backed authorization. Services call :func:`require` before they act; routes never decide.

Permissions are ``resource:action`` strings. The enforcer holds only the policy (role -> permission,
plus inheritance), loaded once per process from files reviewed like code.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import casbin
import structlog

from backend.core.deps import OrgContext
from backend.core.errors import Forbidden

HERE = Path(__file__).parent
MODEL_PATH = HERE / "model.conf"
POLICY_PATH = HERE / "policy.csv"

log = structlog.get_logger(__name__)


@lru_cache(maxsize=1)
def enforcer() -> casbin.Enforcer:
    return casbin.Enforcer(str(MODEL_PATH), str(POLICY_PATH))


def role_subject(org_role: str) -> str:
    return f"org:{org_role}"


def is_allowed(org_role: str, permission: str) -> bool:
    resource, _, action = permission.partition(":")
    return bool(enforcer().enforce(role_subject(org_role), resource, action))


def require(ctx: OrgContext, permission: str) -> None:
    """Raise 403 unless the caller's role in the context's organization grants ``permission``."""
    role = ctx.membership.role
    allowed = is_allowed(role, permission)
    ctx.decisions.append((permission, allowed))
    if not allowed:
        log.info("authz_denied", permission=permission, role=role)
        raise Forbidden(f"Your role in this organization does not allow '{permission}'.")


def permissions() -> list[str]:
    """Every permission named in the policy, sorted."""
    return sorted({f"{obj}:{act}" for _, obj, act in enforcer().get_policy()})


def roles() -> list[str]:
    return ["owner", "admin", "manager", "member", "auditor"]
