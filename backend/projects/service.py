"""Projects inside an organization, and who holds which role in them."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import Text, cast, func, literal_column, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from backend.core import audit
from backend.core.conditional import entity_tag, require_match
from backend.core.errors import Conflict, NotFound, UnprocessableContent
from backend.core.models import utcnow
from backend.core.pagination import Page, PageParams, paginate
from backend.projects import schemas
from backend.tenancy import guard
from backend.tenancy.context import OrgContext, ProjectContext
from backend.tenancy.models import Client, Membership, Project, ProjectMembership, User
from backend.tenancy.roles import ProjectRole

# Every field a caller sets (and the audit trail records); name and key are never cleared.
_FIELDS = (
    "name", "key", "description", "client_id", "status", "priority", "color", "tags", "start_date", "due_date",
    "estimate_hours", "budget_kind", "budget_period", "budget_amount", "currency", "billable", "hourly_rate",
    "fixed_fee",
)  # fmt: skip
_REQUIRED = {"name", "key", "status", "priority", "tags", "billable"}


def _state(project: Project) -> dict[str, Any]:
    return {**{field: getattr(project, field) for field in _FIELDS}, "archived_at": project.archived_at}


def _read(project: Project, role: str | None) -> schemas.ProjectRead:
    return schemas.ProjectRead.model_validate(
        {**_state(project), "id": project.id, "created_at": project.created_at, "my_role": role}
    )


def _violated(exc: IntegrityError) -> str:
    cause = getattr(exc.orig, "__cause__", None)
    return str(getattr(cause, "constraint_name", "") or "")


async def _flush_unique(ctx: OrgContext, project: Project) -> None:
    try:
        await ctx.session.flush()
    except IntegrityError as exc:
        if _violated(exc) == "uq_projects_org_id_key":
            raise Conflict(
                f"A project with the key '{project.key}' already exists here.", extra={"field": "key"}
            ) from None
        raise Conflict(f"A project named '{project.name}' already exists here.", extra={"field": "name"}) from None


def _key_base(name: str) -> str:
    letters = re.sub(r"[^A-Z0-9]", "", name.upper()).lstrip("0123456789")
    return (letters[:4] if len(letters) >= 2 else (letters + "PRJ")[:3]) or "PRJ"


async def _derive_key(ctx: OrgContext, name: str) -> str:
    """A free key from the project name: ``Website relaunch`` -> ``WEBS`` (then ``WEBS2``, ``WEBS3``...)."""
    base = _key_base(name)
    taken = set(
        (
            await ctx.session.scalars(
                select(col(Project.key)).where(col(Project.org_id) == ctx.org_id, col(Project.key).startswith(base))
            )
        ).all()
    )
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}{n}"
    return candidate


async def _check_links(ctx: OrgContext, values: dict[str, Any]) -> None:
    client_id = values.get("client_id")
    if client_id is not None:
        client = await ctx.session.get(Client, client_id)
        if client is None or client.org_id != ctx.org_id:
            raise UnprocessableContent("No such client in this organization.", extra={"field": "client_id"})


async def create(ctx: OrgContext, data: schemas.ProjectCreate) -> schemas.ProjectRead:
    """The creator leads the new project (so a manager can run the projects they start)."""
    guard.require(ctx, "project:create")
    values = {k: v for k, v in data.model_dump().items() if v is not None}
    await _check_links(ctx, values)
    if "key" not in values:
        values["key"] = await _derive_key(ctx, data.name)
    project = Project(org_id=ctx.org_id, **values)
    ctx.session.add(project)
    await _flush_unique(ctx, project)
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


#: Who sees a project's burn: the people who may read the team's time on it (as the projects report).
_BURN_READERS = ("team_report:read", "team_time:read")


def _sees_burn(subjects: tuple[str, ...]) -> bool:
    return any(guard.policy.allows(subjects, permission) for permission in _BURN_READERS)


def _burn_column(user_id: uuid.UUID) -> Any:
    """The row's burn as JSON text, from ``project_burn`` (the one place it is computed), counting a
    monthly budget's month in the reader's time zone."""
    burn = func.project_burn(literal_column("projects"), func.member_zone(col(Project.org_id), user_id)).alias("b")
    return select(cast(func.to_jsonb(literal_column("b")), Text)).select_from(burn).scalar_subquery()


def without_burn(project: schemas.ProjectRead) -> schemas.ProjectRead:
    """The representation an ETag covers: the project's own state, not the time booked on it, so an
    If-Match taken from a read still matches after someone logs time."""
    return project.model_copy(update={"budget_burn": None})


async def list_projects(
    ctx: OrgContext,
    page: PageParams,
    *,
    include_archived: bool = False,
    client_id: uuid.UUID | None = None,
    status: str | None = None,
    tag: str | None = None,
) -> Page[schemas.ProjectRead]:
    guard.require(ctx, "project:list")
    query = (
        select(Project, col(ProjectMembership.role), _burn_column(ctx.user_id))
        .outerjoin(
            ProjectMembership,
            (col(ProjectMembership.project_id) == col(Project.id)) & (col(ProjectMembership.user_id) == ctx.user_id),
        )
        .where(col(Project.org_id) == ctx.org_id)
    )
    if not include_archived:
        query = query.where(col(Project.archived_at).is_(None))
    if client_id is not None:
        query = query.where(col(Project.client_id) == client_id)
    if status is not None:
        query = query.where(col(Project.status) == status)
    if tag is not None:
        query = query.where(col(Project.tags).contains([tag.strip().lower()]))

    org_sees_burn = _sees_burn(ctx.role_subjects())

    def item(row: Any) -> schemas.ProjectRead:
        read = _read(row[0], row[1])
        sees = org_sees_burn or (row[1] is not None and _sees_burn((*ctx.role_subjects(), ProjectRole(row[1]).subject)))
        if sees and row[2] is not None:
            read.budget_burn = schemas.BudgetBurn.model_validate_json(row[2])
        return read

    return await paginate(ctx.session, query, page, item, order_by=[col(Project.name), col(Project.id)])


def _my_role(ctx: ProjectContext) -> str | None:
    return ctx.project_role.value if ctx.project_role else None


async def _load(ctx: ProjectContext, *, lock: bool = True) -> Project:
    project = await ctx.session.get(Project, ctx.project.id, with_for_update=lock)
    assert project is not None  # the context just found it in this transaction
    return project


async def get(ctx: ProjectContext) -> schemas.ProjectRead:
    guard.require(ctx, "project:read")
    if ctx.project_row is not None:  # the context's own lookup read the whole row (and its burn)
        read = schemas.ProjectRead.model_validate_json(ctx.project_row)
    else:
        read = _read(await _load(ctx, lock=False), _my_role(ctx))
    if read.budget_burn is not None and not _sees_burn(ctx.role_subjects()):
        read.budget_burn = None
    return read


async def update(
    ctx: ProjectContext, data: schemas.ProjectUpdate, *, if_match: str | None = None
) -> schemas.ProjectRead:
    guard.require(ctx, "project:update")
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if not (k in _REQUIRED and v is None)}
    await _check_links(ctx, changes)
    project = await _load(ctx)
    require_match(if_match, entity_tag(_read(project, _my_role(ctx))))  # under the row lock
    before = _state(project)
    for field, value in changes.items():
        setattr(project, field, value)
    if project.start_date and project.due_date and project.due_date < project.start_date:
        raise UnprocessableContent("due_date must not be before start_date.", extra={"field": "due_date"})
    if _state(project) != before:
        project.updated_at = utcnow()
        await _flush_unique(ctx, project)
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
