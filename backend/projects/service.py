"""Projects inside an organization, and who holds which role in them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from backend.core import audit
from backend.core.errors import Conflict, NotFound
from backend.core.models import utcnow
from backend.core.pagination import Page, PageParams, paginate
from backend.projects import schemas
from backend.tenancy import guard
from backend.tenancy.context import OrgContext, ProjectContext, ProjectInfo
from backend.tenancy.models import Membership, Project, ProjectMembership, User
from backend.tenancy.roles import ProjectRole


def _state(project: Project | ProjectInfo) -> dict[str, Any]:
    return {"name": project.name, "description": project.description, "archived_at": project.archived_at}


def _read(project: Project | ProjectInfo, role: str | None) -> schemas.ProjectRead:
    return schemas.ProjectRead(
        id=project.id,
        name=project.name,
        description=project.description,
        archived_at=project.archived_at,
        created_at=project.created_at,
        my_role=ProjectRole(role) if role else None,
    )


async def _flush_unique_name(ctx: OrgContext, name: str) -> None:
    try:
        await ctx.session.flush()
    except IntegrityError:
        raise Conflict(f"A project named '{name}' already exists here.", extra={"field": "name"}) from None


async def create(ctx: OrgContext, data: schemas.ProjectCreate) -> schemas.ProjectRead:
    """The creator leads the new project (so a manager can run the projects they start)."""
    guard.require(ctx, "project:create")
    project = Project(org_id=ctx.org_id, name=data.name, description=data.description)
    ctx.session.add(project)
    await _flush_unique_name(ctx, data.name)
    lead = ProjectMembership(org_id=ctx.org_id, project_id=project.id, user_id=ctx.user_id, role=ProjectRole.LEAD.value)
    ctx.session.add(lead)
    await ctx.session.flush()
    await audit.record_in(
        ctx, action="project.created", resource_type="project", resource_id=project.id, after=_state(project)
    )
    return _read(project, lead.role)


async def create_named(ctx: OrgContext, name: str) -> schemas.ProjectRead:
    """:func:`create` for other domains that only know a name (e.g. time imports)."""
    return await create(ctx, schemas.ProjectCreate(name=name))


async def list_projects(
    ctx: OrgContext, page: PageParams, *, include_archived: bool = False
) -> Page[schemas.ProjectRead]:
    guard.require(ctx, "project:list")
    query = (
        select(Project, col(ProjectMembership.role))
        .outerjoin(
            ProjectMembership,
            (col(ProjectMembership.project_id) == col(Project.id)) & (col(ProjectMembership.user_id) == ctx.user_id),
        )
        .where(col(Project.org_id) == ctx.org_id)
    )
    if not include_archived:
        query = query.where(col(Project.archived_at).is_(None))

    def item(row: Any) -> schemas.ProjectRead:
        return _read(row[0], row[1])

    return await paginate(ctx.session, query, page, item, order_by=[col(Project.name), col(Project.id)])


def _my_role(ctx: ProjectContext) -> str | None:
    return ctx.project_role.value if ctx.project_role else None


async def get(ctx: ProjectContext) -> schemas.ProjectRead:
    guard.require(ctx, "project:read")
    return _read(ctx.project, _my_role(ctx))


async def _load(ctx: ProjectContext) -> Project:
    project = await ctx.session.get(Project, ctx.project.id, with_for_update=True)
    assert project is not None  # the context just found it in this transaction
    return project


async def update(ctx: ProjectContext, data: schemas.ProjectUpdate) -> schemas.ProjectRead:
    guard.require(ctx, "project:update")
    project = await _load(ctx)
    before = _state(project)
    for field, value in data.model_dump(exclude_unset=True).items():
        if field == "name" and value is None:
            continue
        setattr(project, field, value)
    if _state(project) != before:
        project.updated_at = utcnow()
        await _flush_unique_name(ctx, project.name)
        await audit.record_in(
            ctx,
            action="project.updated",
            resource_type="project",
            resource_id=project.id,
            before=before,
            after=_state(project),
        )
    return _read(project, _my_role(ctx))


async def archive(ctx: ProjectContext) -> schemas.ProjectRead:
    guard.require(ctx, "project:archive")
    project = await _load(ctx)
    before = _state(project)
    project.archived_at = project.updated_at = utcnow()
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="project.archived",
        resource_type="project",
        resource_id=project.id,
        before=before,
        after=_state(project),
    )
    return _read(project, _my_role(ctx))


async def list_members(ctx: ProjectContext) -> list[schemas.ProjectMemberRead]:
    guard.require(ctx, "project_member:list")
    rows = await ctx.session.execute(
        select(ProjectMembership, User)
        .join(User, col(User.id) == col(ProjectMembership.user_id))
        .where(col(ProjectMembership.project_id) == ctx.project.id)
        .order_by(col(User.email))
    )
    return [
        schemas.ProjectMemberRead(
            user_id=user.id, email=user.email, display_name=user.display_name, role=ProjectRole(pm.role)
        )
        for pm, user in rows.all()
    ]


async def assign_role(
    ctx: ProjectContext, user_id: uuid.UUID, data: schemas.ProjectRoleAssignment
) -> schemas.ProjectMemberRead:
    """Add an organization member to the project, or change their project role."""
    guard.require(ctx, "project_member:manage")
    if await ctx.session.get(Membership, (ctx.org_id, user_id)) is None:
        raise NotFound("No such member in this organization.")
    user = await ctx.session.get(User, user_id)
    assert user is not None
    assignment = await ctx.session.get(ProjectMembership, (ctx.project.id, user_id))
    before = {"role": assignment.role} if assignment else None
    if assignment is None:
        assignment = ProjectMembership(
            org_id=ctx.org_id, project_id=ctx.project.id, user_id=user_id, role=data.role.value
        )
        ctx.session.add(assignment)
    elif assignment.role != data.role.value:
        assignment.role, assignment.updated_at = data.role.value, utcnow()
    if before != {"role": data.role.value}:
        await ctx.session.flush()
        await audit.record_in(
            ctx,
            action="project_membership.assigned",
            resource_type="project_membership",
            resource_id=f"{ctx.project.id}:{user_id}",
            before=before,
            after={"role": data.role.value},
        )
    return schemas.ProjectMemberRead(
        user_id=user.id, email=user.email, display_name=user.display_name, role=ProjectRole(assignment.role)
    )


async def remove_member(ctx: ProjectContext, user_id: uuid.UUID) -> None:
    guard.require(ctx, "project_member:manage")
    assignment = await ctx.session.get(ProjectMembership, (ctx.project.id, user_id))
    if assignment is None:
        raise NotFound("No such member in this project.")
    await ctx.session.delete(assignment)
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="project_membership.removed",
        resource_type="project_membership",
        resource_id=f"{ctx.project.id}:{user_id}",
        before={"role": assignment.role},
    )
