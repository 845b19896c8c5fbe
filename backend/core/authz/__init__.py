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


# pycasbin evaluates its matcher expression on every call (hundreds of microseconds). The policy is
# fixed for the life of the process and the inputs are a handful of roles and permissions, so each
# answer is computed once and memoised; reload_policy() starts over.
_decisions: dict[tuple[str, str], bool] = {}


def is_allowed(subject: str, permission: str) -> bool:
    """May the role ``subject`` (``org:admin``, ``project:lead`` ...) exercise ``resource:action``?"""
    key = (subject, permission)
    decision = _decisions.get(key)
    if decision is None:
        resource, _, action = permission.partition(":")
        decision = _decisions[key] = bool(enforcer().enforce(subject, resource, action))
    return decision


def reload_policy() -> None:
    """Re-read model and policy files (e.g. after a deploy changed them) and forget memoised answers."""
    enforcer.cache_clear()
    _decisions.clear()


def require(ctx: OrgContext, permission: str) -> None:
    """Raise 403 unless one of the caller's roles here grants ``permission``."""
    subjects = ctx.role_subjects()
    allowed = any(is_allowed(subject, permission) for subject in subjects)
    ctx.decisions.append((permission, allowed))
    if not allowed:
        log.info("authz_denied", permission=permission, roles=subjects)
        raise Forbidden(f"Your role here does not allow '{permission}'.")


def permissions() -> list[str]:
    """Every permission named in the policy, sorted."""
    return sorted({f"{obj}:{act}" for _, obj, act in enforcer().get_policy()})


ORG_ROLES = ["org:owner", "org:admin", "org:manager", "org:member", "org:auditor"]
PROJECT_ROLES = ["project:lead", "project:contributor", "project:viewer"]


def roles() -> list[str]:
    return [*ORG_ROLES, *PROJECT_ROLES]
