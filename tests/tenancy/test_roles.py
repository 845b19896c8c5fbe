"""One list of roles: the policy, the models and the live database CHECKs all follow backend.tenancy.roles."""

from __future__ import annotations

import re
from typing import Any

from backend.tenancy import guard, roles
from backend.tenancy.roles import MembershipStatus, OrgRole, ProjectRole


def test_the_policy_names_only_known_roles() -> None:
    named = {sub for sub, _, _ in guard.policy.enforcer.get_policy()}
    named |= {role for line in guard.policy.enforcer.get_grouping_policy() for role in line}
    assert named <= set(roles.subjects())
    # ...and every role is reachable: each one is granted at least one permission.
    assert all(guard.policy.granted([subject]) for subject in roles.subjects())


def test_ranks_order_the_organization_roles() -> None:
    assert OrgRole.OWNER.rank > OrgRole.ADMIN.rank > OrgRole.MANAGER.rank > OrgRole.MEMBER.rank
    assert OrgRole.AUDITOR.rank == OrgRole.ADMIN.rank


async def test_the_database_checks_are_the_derived_ones(owner_db: Any) -> None:
    rows = await owner_db.fetch(
        "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint "
        "WHERE conname IN ('ck_memberships_role', 'ck_memberships_status', 'ck_project_memberships_role')"
    )
    found = {row["conname"]: row["definition"] for row in rows}
    expected = {
        "ck_memberships_role": OrgRole,
        "ck_memberships_status": MembershipStatus,
        "ck_project_memberships_role": ProjectRole,
    }
    assert set(found) == set(expected)
    for name, values in expected.items():
        allowed = sorted(value.value for value in values)
        assert sorted(re.findall(r"'([^']*)'", found[name])) == allowed, (name, found[name])
