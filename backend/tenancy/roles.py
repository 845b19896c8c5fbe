"""THE list of roles. Ranks, Casbin subjects and the database CHECK constraints are derived from here;
nothing else spells a role out."""

from __future__ import annotations

import enum


class OrgRole(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MANAGER = "manager"
    MEMBER = "member"
    AUDITOR = "auditor"

    @property
    def subject(self) -> str:
        """The Casbin subject for this role (``org:admin``)."""
        return f"org:{self.value}"

    @property
    def rank(self) -> int:
        """How far the role reaches when granting, changing or removing others."""
        return _ORG_RANK[self]


# The auditor reads everything but manages no one; ranking it with admins only means an admin may
# appoint one (and only an admin or owner may touch one).
_ORG_RANK = {OrgRole.OWNER: 4, OrgRole.ADMIN: 3, OrgRole.AUDITOR: 3, OrgRole.MANAGER: 2, OrgRole.MEMBER: 1}


class ProjectRole(enum.StrEnum):
    LEAD = "lead"
    CONTRIBUTOR = "contributor"
    VIEWER = "viewer"

    @property
    def subject(self) -> str:
        return f"project:{self.value}"


class MembershipStatus(enum.StrEnum):
    ACTIVE = "active"
    INVITED = "invited"
    #: Deactivated by the organization's identity provider (SCIM ``active: false``): refused like a
    #: non-member until reactivated; kept so that reactivation restores the same role.
    SUSPENDED = "suspended"


def subjects() -> list[str]:
    """Every Casbin subject a caller can hold, organization roles first."""
    return [role.subject for role in OrgRole] + [role.subject for role in ProjectRole]


def sql_check(column: str, values: type[enum.StrEnum]) -> str:
    """The CHECK expression that keeps ``column`` inside ``values`` (models and migrations use it)."""
    return f"{column} IN ({', '.join(repr(member.value) for member in values)})"


def check_constraints() -> list[tuple[str, str, str]]:
    """(table, constraint name, expression) of every CHECK that keeps a role or status column inside
    its list. Models declare them; a migration re-applies them whenever a list changes."""
    return [
        ("memberships", "ck_memberships_role", sql_check("role", OrgRole)),
        ("memberships", "ck_memberships_status", sql_check("status", MembershipStatus)),
        ("project_memberships", "ck_project_memberships_role", sql_check("role", ProjectRole)),
    ]
