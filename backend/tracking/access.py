"""Who may touch which time entry: the entry's project as the caller sees it, own time against
someone else's, the projects a lead reads through their project role, and the context a job acts in."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.core.auth import Principal
from backend.core.errors import Conflict, Forbidden, NotFound, ProblemError, UnprocessableContent
from backend.tenancy import guard
from backend.tenancy.context import OrgContext, OrgInfo, ProjectContext, enter_project, project_info, within_project
from backend.tenancy.models import Membership, Organization, Project, ProjectMembership, User
from backend.tenancy.roles import MembershipStatus, OrgRole, ProjectRole
from backend.tenancy.users import UserInfo
from backend.tracking.models import TimeEntry
from backend.work import service as work_service

#: The client a job acts through in audit records (historically the importer's).
JOB_CLIENT_ID = "worktime-import"


def with_field(exc: ProblemError, field: str) -> ProblemError:
    exc.extra.setdefault("field", field)
    return exc


async def project_for(ctx: OrgContext, project_id: uuid.UUID, *, field: str = "project_id") -> ProjectContext:
    """The entry's project as the caller sees it; an unknown project is the request's fault (422)."""
    try:
        return await enter_project(ctx, project_id)
    except NotFound:
        raise UnprocessableContent("No such project in this organization.", extra={"field": field}) from None


def require_on(pctx: ProjectContext, permission: str, *, field: str = "project_id") -> None:
    try:
        guard.require(pctx, permission)
    except (Forbidden, Conflict) as exc:
        if isinstance(exc, Forbidden) and permission.startswith("time_entry:"):
            exc.detail = f"You cannot log or change time on the project '{pctx.project.name}': {exc.detail}"
        raise with_field(exc, field) from None


async def require_task_on(pctx: ProjectContext, task_id: uuid.UUID | None, *, field: str = "task_id") -> None:
    """An entry's task must be a live task of the entry's own project (the database's composite key
    says the same; this gives the clear 422 first)."""
    if task_id is None:
        return
    try:
        await work_service.task_in_project(pctx, task_id)
    except NotFound:
        raise UnprocessableContent(
            f"No such task on the project '{pctx.project.name}'.", extra={"field": field}
        ) from None


async def billable_default(pctx: ProjectContext) -> bool:
    """A new entry is billable when its project is, unless the caller says otherwise. The project row is
    in the session already (``enter_project`` loaded it), so this costs no round trip."""
    project = await pctx.session.get(Project, pctx.project.id)
    return True if project is None else project.billable


async def authorize_entry(
    ctx: OrgContext, project_id: uuid.UUID, owner: uuid.UUID, action: str, *, field: str = "project_id"
) -> ProjectContext:
    """Your own entry needs ``time_entry:<action>`` on its project; anyone else's ``team_time:update``."""
    pctx = await project_for(ctx, project_id, field=field)
    require_on(pctx, f"time_entry:{action}" if owner == ctx.user_id else "team_time:update", field=field)
    return pctx


async def projects_where(ctx: OrgContext, permission: str) -> list[uuid.UUID]:
    """The projects in which the caller's own project role grants ``permission`` (for leads)."""
    rows = await ctx.session.execute(
        select(Project, col(ProjectMembership.role))
        .join(ProjectMembership, col(ProjectMembership.project_id) == col(Project.id))
        .where(col(ProjectMembership.user_id) == ctx.user_id, col(Project.org_id) == ctx.org_id)
    )
    found = []
    for project, role in rows.all():
        pctx = within_project(ctx, project_info(project), ProjectRole(role))
        if guard.allowed(pctx, permission):
            found.append(project.id)
    return found


async def led_projects(ctx: OrgContext) -> list[uuid.UUID]:
    """The projects whose team time the caller reads through their own project role (leads); reports and
    exports scope a lead's figures with it."""
    return await projects_where(ctx, "team_time:read")


async def require_readable(ctx: OrgContext, entry: TimeEntry) -> None:
    if entry.user_id == ctx.user_id:
        return
    pctx = await enter_project(ctx, entry.project_id)
    guard.require(pctx, "team_time:read")


async def load_entry(ctx: OrgContext, entry_id: uuid.UUID, *, for_update: bool = False) -> TimeEntry:
    entry = await ctx.session.get(TimeEntry, (ctx.org_id, entry_id), with_for_update=for_update)
    if entry is None:
        raise NotFound("No such time entry.")
    return entry


async def require_member(ctx: OrgContext, user_id: uuid.UUID, *, field: str = "user_id") -> None:
    membership = await ctx.session.get(Membership, (ctx.org_id, user_id))
    if membership is None or membership.status != "active":
        raise UnprocessableContent("No such member in this organization.", extra={"field": field})


# --- the rules on an entry's times -----------------------------------------------------------------


async def require_sees_person(ctx: OrgContext, user_id: uuid.UUID, entries: Sequence[TimeEntry]) -> None:
    """Someone else's week: org-wide readers, or a lead of one of its entries' projects."""
    if user_id == ctx.user_id or guard.allowed(ctx, "team_time:read"):
        return
    led = set(await projects_where(ctx, "team_time:read"))
    if not led.intersection(entry.project_id for entry in entries):
        raise Forbidden("You may read only your own timesheets and those with time on projects you lead.")


async def worker_context(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> OrgContext:
    """The person a job acts for (an import's importer, an export's requester): their organization role as
    it stands now, so a person removed since is refused. The organization's second-factor rule is not
    applied again here: the request that started the job passed it, and a job has no token to show."""
    org = await session.get(Organization, org_id)
    membership = await session.get(Membership, (org_id, user_id))
    user = await session.get(User, user_id)
    if org is None or user is None or membership is None or membership.status != MembershipStatus.ACTIVE:
        raise Forbidden("The person who started this job is no longer a member of the organization.")
    principal = Principal(
        subject=user_id,
        client_id=JOB_CLIENT_ID,
        username=user.username,
        email=user.email,
        name=user.display_name,
        realm_roles=frozenset(),
        scopes=frozenset(),
    )
    return OrgContext(
        principal=principal,
        user=UserInfo(
            id=user.id,
            username=user.username,
            email=user.email,
            display_name=user.display_name,
            is_service_account=user.is_service_account,
        ),
        session=session,
        org=OrgInfo(id=org.id, slug=org.slug, name=org.name, archived_at=org.archived_at, created_at=org.created_at),
        role=OrgRole(membership.role),
    )
