"""Tasks: numbered per project (``WEB-42``), assigned to people who work on the project, soft-deleted.

Contributors create tasks and update the ones assigned to them; leads (and org admins, who act as lead)
manage every task of their project; viewers read. Numbers come from the project's counter, incremented
with ``UPDATE ... RETURNING``: the row lock orders concurrent creators, so no two tasks share a number.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import case, exists, select
from sqlalchemy import update as sql_update
from sqlmodel import col

from backend.core import audit
from backend.core.conditional import entity_tag, require_match
from backend.core.errors import Forbidden, NotFound, UnprocessableContent
from backend.core.models import utcnow
from backend.core.pagination import Page, PageParams, paginate
from backend.tenancy import guard
from backend.tenancy.context import OrgContext, ProjectContext
from backend.tenancy.models import Membership, Project, ProjectMembership
from backend.tenancy.roles import OrgRole, ProjectRole
from backend.work import schemas
from backend.work.models import Task, TaskAssignee, TaskStatus

_FIELDS = ("title", "description", "status", "priority", "due_date", "estimate_hours", "labels", "completed_at",
           "reminder_at")  # fmt: skip
_REQUIRED = {"title", "status", "priority", "labels"}
_PRIORITY_RANK = case({"urgent": 0, "high": 1, "normal": 2, "low": 3}, value=col(Task.priority))
SORTS: dict[str, Sequence[Any]] = {
    "number": [col(Task.number)],
    "-number": [col(Task.number).desc()],
    "due_date": [col(Task.due_date).asc().nulls_last(), col(Task.number)],
    "priority": [_PRIORITY_RANK, col(Task.number)],
    "-updated_at": [col(Task.updated_at).desc(), col(Task.number)],
}


def ref(key: str | None, number: int) -> str:
    return f"{key}-{number}" if key else f"#{number}"


def _state(task: Task, assignees: Sequence[uuid.UUID]) -> dict[str, Any]:
    return {**{f: getattr(task, f) for f in _FIELDS}, "assignee_ids": sorted(str(a) for a in assignees)}


def _read(task: Task, key: str | None, assignees: Sequence[uuid.UUID]) -> schemas.TaskRead:
    return schemas.TaskRead.model_validate(
        {
            **{f: getattr(task, f) for f in _FIELDS},
            "id": task.id,
            "project_id": task.project_id,
            "number": task.number,
            "ref": ref(key, task.number),
            "assignee_ids": sorted(assignees, key=str),
            "created_by": task.created_by,
            "deleted_at": task.deleted_at,
            "created_at": task.created_at,
            "updated_at": task.updated_at,
        }
    )


async def _assignees(ctx: OrgContext, task_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    found: dict[uuid.UUID, list[uuid.UUID]] = {task_id: [] for task_id in task_ids}
    if task_ids:
        rows = await ctx.session.execute(
            select(col(TaskAssignee.task_id), col(TaskAssignee.user_id))
            .where(col(TaskAssignee.task_id).in_(task_ids))
            .order_by(col(TaskAssignee.user_id))  # a stable representation, so a stable ETag
        )
        for task_id, user_id in rows.all():
            found[task_id].append(user_id)
    return found


async def _project_key(ctx: ProjectContext) -> str | None:
    key: str | None = await ctx.session.scalar(select(col(Project.key)).where(col(Project.id) == ctx.project.id))
    return key


async def _check_assignees(ctx: ProjectContext, user_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Assignees are organization members whose roles let them work on this project's tasks."""
    wanted = list(dict.fromkeys(user_ids))
    if not wanted:
        return []
    rows = await ctx.session.execute(
        select(col(Membership.user_id), col(Membership.role), col(ProjectMembership.role))
        .outerjoin(
            ProjectMembership,
            (col(ProjectMembership.user_id) == col(Membership.user_id))
            & (col(ProjectMembership.project_id) == ctx.project.id),
        )
        .where(col(Membership.org_id) == ctx.org_id, col(Membership.user_id).in_(wanted))
        .where(col(Membership.status) == "active")
    )
    able = {
        user_id
        for user_id, org_role, project_role in rows.all()
        if guard.policy.allows(
            (OrgRole(org_role).subject, *([ProjectRole(project_role).subject] if project_role else [])), "task:update"
        )
    }
    refused = [str(user_id) for user_id in wanted if user_id not in able]
    if refused:
        raise UnprocessableContent(
            "Assignees must be members of this organization who work on this project: " + ", ".join(refused),
            extra={"field": "assignee_ids", "refused": refused},
        )
    return wanted


async def _next_number(ctx: ProjectContext) -> tuple[int, str | None]:
    row = (
        await ctx.session.execute(
            sql_update(Project)
            .where(col(Project.id) == ctx.project.id, col(Project.org_id) == ctx.org_id)
            .values(task_seq=col(Project.task_seq) + 1)
            .returning(col(Project.task_seq), col(Project.key))
        )
    ).one()
    return int(row[0]), row[1]


async def create(ctx: ProjectContext, data: schemas.TaskCreate) -> schemas.TaskRead:
    guard.require(ctx, "task:create")
    assignees = await _check_assignees(ctx, data.assignee_ids)
    number, key = await _next_number(ctx)
    task = Task(
        org_id=ctx.org_id,
        project_id=ctx.project.id,
        number=number,
        created_by=ctx.user_id,
        completed_at=utcnow() if data.status == TaskStatus.DONE else None,
        **data.model_dump(exclude={"assignee_ids"}),
    )
    ctx.session.add(task)
    await ctx.session.flush()
    ctx.session.add_all(TaskAssignee(org_id=ctx.org_id, task_id=task.id, user_id=u) for u in assignees)
    await ctx.session.flush()
    await audit.record_in(
        ctx, action="task.created", resource_type="task", resource_id=task.id, after=_state(task, assignees)
    )
    return _read(task, key, assignees)


async def _load(ctx: ProjectContext, task_id: uuid.UUID, *, lock: bool = False, deleted: bool = False) -> Task:
    task = await ctx.session.get(Task, task_id, with_for_update=lock)
    if task is None or task.project_id != ctx.project.id or (task.deleted_at is not None) != deleted:
        raise NotFound("No such task.")
    return task


async def task_in_project(ctx: ProjectContext, task_id: uuid.UUID) -> Task:
    """A live task of the context's project (for comments and attachments); 404 otherwise."""
    return await _load(ctx, task_id)


async def get(ctx: ProjectContext, task_id: uuid.UUID) -> schemas.TaskRead:
    guard.require(ctx, "task:read")
    task = await _load(ctx, task_id)
    return _read(task, await _project_key(ctx), (await _assignees(ctx, [task.id]))[task.id])


def _filters(
    query: Any,
    ctx: OrgContext,
    *,
    status: TaskStatus | None,
    assignee: str | None,
    label: str | None,
    due_before: date | None,
    search: str | None,
) -> Any:
    query = query.where(col(Task.deleted_at).is_(None))
    if status is not None:
        query = query.where(col(Task.status) == status.value)
    if assignee is not None:
        if assignee == "me":
            who = ctx.user_id
        else:
            try:
                who = uuid.UUID(assignee)
            except ValueError:
                raise UnprocessableContent("assignee is 'me' or a user id.", extra={"field": "assignee"}) from None
        query = query.where(exists().where(col(TaskAssignee.task_id) == col(Task.id), col(TaskAssignee.user_id) == who))
    if label is not None:
        query = query.where(col(Task.labels).contains([label.strip().lower()]))
    if due_before is not None:
        query = query.where(col(Task.due_date) < due_before)
    if search:
        query = query.where(col(Task.title).ilike(f"%{search}%"))
    return query


async def _page(ctx: OrgContext, query: Any, page: PageParams, sort: str) -> Page[schemas.TaskRead]:
    if sort not in SORTS:
        raise UnprocessableContent(f"sort is one of {', '.join(SORTS)}.", extra={"field": "sort"})
    result = await paginate(ctx.session, query, page, lambda row: row, order_by=[*SORTS[sort], col(Task.id)])
    assigned = await _assignees(ctx, [task.id for task, _ in result.items])
    return Page(
        items=[_read(task, key, assigned[task.id]) for task, key in result.items],
        total=result.total,
        limit=result.limit,
        offset=result.offset,
    )


async def list_tasks(
    ctx: ProjectContext,
    page: PageParams,
    *,
    status: TaskStatus | None = None,
    assignee: str | None = None,
    label: str | None = None,
    due_before: date | None = None,
    search: str | None = None,
    sort: str = "number",
) -> Page[schemas.TaskRead]:
    guard.require(ctx, "task:list")
    query = (
        select(Task, col(Project.key))
        .join(Project, col(Project.id) == col(Task.project_id))
        .where(col(Task.project_id) == ctx.project.id)
    )
    query = _filters(query, ctx, status=status, assignee=assignee, label=label, due_before=due_before, search=search)
    return await _page(ctx, query, page, sort)


async def list_org_tasks(
    ctx: OrgContext,
    page: PageParams,
    *,
    status: TaskStatus | None = None,
    assignee: str | None = None,
    label: str | None = None,
    due_before: date | None = None,
    search: str | None = None,
    sort: str = "due_date",
) -> Page[schemas.TaskRead]:
    """Tasks across the projects the caller may read (all of them for admins and auditors)."""
    guard.require(ctx, "my_task:list")
    query = select(Task, col(Project.key)).join(Project, col(Project.id) == col(Task.project_id))
    query = query.where(col(Task.org_id) == ctx.org_id)
    if not guard.allowed(ctx, "task:list"):  # org admins and auditors reach every project
        query = query.where(
            exists().where(
                col(ProjectMembership.project_id) == col(Task.project_id),
                col(ProjectMembership.user_id) == ctx.user_id,
            )
        )
    query = _filters(query, ctx, status=status, assignee=assignee, label=label, due_before=due_before, search=search)
    return await _page(ctx, query, page, sort)


async def update(
    ctx: ProjectContext, task_id: uuid.UUID, data: schemas.TaskUpdate, *, if_match: str | None = None
) -> schemas.TaskRead:
    guard.require(ctx, "task:update")
    task = await _load(ctx, task_id, lock=True)
    current = (await _assignees(ctx, [task.id]))[task.id]
    # Under the row lock: a board move made on a stale card is a 412, never a lost update.
    require_match(if_match, entity_tag(_read(task, await _project_key(ctx), current)))
    if ctx.user_id not in current and not guard.allowed(ctx, "task:manage"):
        raise Forbidden("You may update only the tasks assigned to you.")
    before = _state(task, current)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if not (k in _REQUIRED and v is None)}
    assignees = current
    if "assignee_ids" in changes:
        assignees = await _check_assignees(ctx, changes.pop("assignee_ids") or [])
    for field, value in changes.items():
        setattr(task, field, value)
    if task.status == TaskStatus.DONE and task.completed_at is None:
        task.completed_at = utcnow()
    elif task.status != TaskStatus.DONE:
        task.completed_at = None
    after = _state(task, assignees)
    if after != before:
        if set(assignees) != set(current):
            removed = set(current) - set(assignees)
            for user_id in removed:
                link = await ctx.session.get(TaskAssignee, (task.id, user_id))
                if link is not None:
                    await ctx.session.delete(link)
            ctx.session.add_all(
                TaskAssignee(org_id=ctx.org_id, task_id=task.id, user_id=u) for u in assignees if u not in current
            )
        task.updated_at = utcnow()
        await ctx.session.flush()
        await audit.record_in(
            ctx, action="task.updated", resource_type="task", resource_id=task.id, before=before, after=after
        )
    return _read(task, await _project_key(ctx), assignees)


async def delete(ctx: ProjectContext, task_id: uuid.UUID) -> None:
    guard.require(ctx, "task:delete")
    task = await _load(ctx, task_id, lock=True)
    task.deleted_at = task.updated_at = utcnow()
    await ctx.session.flush()
    await audit.record_in(
        ctx, action="task.deleted", resource_type="task", resource_id=task.id, after={"deleted_at": task.deleted_at}
    )


async def restore(ctx: ProjectContext, task_id: uuid.UUID) -> schemas.TaskRead:
    guard.require(ctx, "task:delete")
    task = await _load(ctx, task_id, lock=True, deleted=True)
    before = {"deleted_at": task.deleted_at}
    task.deleted_at, task.updated_at = None, utcnow()
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="task.restored",
        resource_type="task",
        resource_id=task.id,
        before=before,
        after={"deleted_at": None},
    )
    return _read(task, await _project_key(ctx), (await _assignees(ctx, [task.id]))[task.id])
