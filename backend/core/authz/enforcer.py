"""One process-wide Casbin enforcer per policy, with memoised decisions and explanations."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import casbin
import structlog

log = structlog.get_logger(__name__)

#: The generic RBAC model: role subjects, role inheritance from ``g``, exact resource and action.
MODEL_PATH = Path(__file__).parent / "model.conf"


@dataclass(frozen=True, slots=True)
class Grant:
    """How one held role reaches a permission: the inheritance path and the policy line at its end."""

    subject: str
    path: tuple[str, ...]
    policy_line: str


@dataclass(frozen=True, slots=True)
class Explanation:
    permission: str
    allowed: bool
    grant: Grant | None
    #: Roles whose policy lines grant the permission (whether or not the caller holds them).
    granted_to: tuple[str, ...]


class Authorizer:
    """Decides role -> permission from a Casbin model and policy file loaded once per process.

    pycasbin evaluates its matcher on every ``enforce`` (hundreds of microseconds); the inputs here are
    a handful of roles and permissions, so each answer is computed once and memoised until
    :meth:`reload`.
    """

    def __init__(self, policy_path: Path, model_path: Path = MODEL_PATH) -> None:
        self.policy_path = policy_path
        self.model_path = model_path
        self._lock = threading.Lock()
        self._decisions: dict[tuple[str, str], bool] = {}
        self._enforcer: casbin.Enforcer | None = None
        #: Bumped by every reload, so callers can tell which policy answered.
        self.version = 0

    @property
    def enforcer(self) -> casbin.Enforcer:
        enforcer = self._enforcer
        if enforcer is None:
            with self._lock:
                if self._enforcer is None:
                    self._enforcer = casbin.Enforcer(str(self.model_path), str(self.policy_path))
                enforcer = self._enforcer
        return enforcer

    def reload(self) -> None:
        """Re-read model and policy files (after a deploy changed them) and forget memoised answers.
        The new enforcer is built before it replaces the old one, so a broken file changes nothing."""
        fresh = casbin.Enforcer(str(self.model_path), str(self.policy_path))
        with self._lock:
            self._enforcer = fresh
            self._decisions = {}
            self.version += 1
        log.info("authz_policy_reloaded", policy=str(self.policy_path), version=self.version)

    def is_allowed(self, subject: str, permission: str) -> bool:
        """May the role ``subject`` exercise ``resource:action``?"""
        key = (subject, permission)
        decision = self._decisions.get(key)
        if decision is None:
            resource, _, action = permission.partition(":")
            decision = self._decisions[key] = bool(self.enforcer.enforce(subject, resource, action))
        return decision

    def allows(self, subjects: Iterable[str], permission: str) -> bool:
        return any(self.is_allowed(subject, permission) for subject in subjects)

    def permissions(self) -> list[str]:
        """Every permission named in the policy, sorted."""
        return sorted({f"{obj}:{act}" for _, obj, act in self.enforcer.get_policy()})

    def granted(self, subjects: Iterable[str]) -> list[str]:
        """The permissions any of ``subjects`` holds, sorted."""
        held = list(subjects)
        return [permission for permission in self.permissions() if self.allows(held, permission)]

    def explain(self, subjects: Iterable[str], permission: str) -> Explanation:
        """Which held role grants ``permission``, through which inheritance and which policy line."""
        resource, _, action = permission.partition(":")
        lines = [(sub, obj, act) for sub, obj, act in self.enforcer.get_policy() if (obj, act) == (resource, action)]
        granted_to = tuple(sorted({sub for sub, _, _ in lines}))
        for subject in subjects:
            for role in granted_to:
                path = self._inheritance_path(subject, role)
                if path is not None:
                    grant = Grant(subject=subject, path=path, policy_line=f"p, {role}, {resource}, {action}")
                    return Explanation(permission=permission, allowed=True, grant=grant, granted_to=granted_to)
        return Explanation(permission=permission, allowed=False, grant=None, granted_to=granted_to)

    def _inheritance_path(self, subject: str, role: str) -> tuple[str, ...] | None:
        """Shortest chain ``subject -> ... -> role`` through the ``g`` lines (subject itself included)."""
        edges: dict[str, list[str]] = {}
        for child, parent in self.enforcer.get_grouping_policy():
            edges.setdefault(child, []).append(parent)
        queue: deque[tuple[str, ...]] = deque([(subject,)])
        seen = {subject}
        while queue:
            path = queue.popleft()
            if path[-1] == role:
                return path
            for parent in edges.get(path[-1], []):
                if parent not in seen:
                    seen.add(parent)
                    queue.append((*path, parent))
        return None
