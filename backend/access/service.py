"""Effective permissions of the caller, organization-wide and per project, and their explanation."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlmodel import col

from backend.access import schemas
from backend.core.errors import UnprocessableContent
from backend.tenancy import guard
from backend.tenancy.context import OrgContext, enter_project, project_info, within_project
from backend.tenancy.models import Project, ProjectMembership
from backend.tenancy.roles import OrgRole, ProjectRole


def _effective(ctx: OrgContext, *, project: bool) -> list[str]:
    return [
        permission
        for permission in guard.policy.permissions()
        if guard.project_scoped(permission) == project and guard.allowed(ctx, permission)
    ]


async def my_permissions(ctx: OrgContext) -> schemas.MyPermissions:
    guard.require(ctx, "organization:read")
    rows = await ctx.session.execute(
        select(Project, col(ProjectMembership.role))
        .join(ProjectMembership, col(ProjectMembership.project_id) == col(Project.id))
        .where(col(ProjectMembership.user_id) == ctx.user_id, col(Project.org_id) == ctx.org_id)
        .order_by(col(Project.name))
    )
    projects = []
    for project, role in rows.all():
        inside = within_project(ctx, project_info(project), ProjectRole(role))
        projects.append(
            schemas.ProjectPermissions(
                project_id=project.id,
                name=project.name,
                role=ProjectRole(role),
                archived=project.archived_at is not None,
                permissions=_effective(inside, project=True),
            )
        )
    return schemas.MyPermissions(
        org_id=ctx.org_id,
        role=ctx.role,
        read_only=ctx.read_only_reason(),
        second_factor_required=guard.second_factor_withheld(ctx),
        permissions=_effective(ctx, project=False),
        project_defaults=_effective(ctx, project=True),
        projects=projects,
        role_ranks={role: role.rank for role in OrgRole},
    )


async def explain(ctx: OrgContext, permission: str, project_id: uuid.UUID | None) -> schemas.PermissionExplanation:
    guard.require(ctx, "organization:read")
    known = guard.policy.permissions()
    if permission not in known:
        raise UnprocessableContent(
            f"Unknown permission '{permission}'.", extra={"field": "permission", "known_permissions": known}
        )
    scope: OrgContext = await enter_project(ctx, project_id) if project_id else ctx
    decision = guard.explain(scope, permission)
    grant = decision.grant
    return schemas.PermissionExplanation(
        permission=permission,
        project_id=project_id,
        allowed=decision.allowed,
        roles=list(decision.roles),
        granted_by=schemas.GrantRead(role=grant.subject, via=list(grant.path), policy_line=grant.policy_line)
        if grant
        else None,
        granted_to=list(decision.granted_to),
        read_only=decision.read_only_reason,
        second_factor_required=decision.second_factor_required,
        reason=decision.reason,
    )
