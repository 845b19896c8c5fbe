"""Toggl and Clockify imports: the request that queues one, its progress, and the landing of one row
through the same rules as the API. The file formats are parsed in ``importer``; the job is in ``tasks``."""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlmodel import col

from backend.core import audit, jobs
from backend.core.errors import NotFound, UnprocessableContent
from backend.core.pagination import Page, PageParams, paginate
from backend.projects import service as projects_service
from backend.tenancy import guard
from backend.tenancy.context import OrgContext
from backend.tenancy.models import Membership, Project, User
from backend.tenancy.roles import MembershipStatus
from backend.tracking import schemas
from backend.tracking.entries import create_entry
from backend.tracking.importer import ImportRow, file_hash
from backend.tracking.models import (
    TimeEntry,
    TimeImport,
)
from backend.tracking.zones import zone_of


def _import_read(row: TimeImport) -> schemas.ImportRead:
    return schemas.ImportRead(
        id=row.id,
        source=row.source,
        filename=row.filename,
        dry_run=row.dry_run,
        status=row.status,
        total_rows=row.total_rows,
        done_rows=row.done_rows,
        imported_rows=row.imported_rows,
        duplicate_rows=row.duplicate_rows,
        created_projects=list(row.created_projects),
        errors=list(row.errors),
        created_by=row.created_by,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


async def start_import(ctx: OrgContext, data: schemas.ImportCreate) -> schemas.ImportRead:
    guard.require(ctx, "time_import:create")
    row = TimeImport(
        org_id=ctx.org_id,
        source=data.source,
        filename=data.filename,
        file_hash=file_hash(data.csv),
        content=data.csv,
        dry_run=data.dry_run,
        may_create_projects=guard.allowed(ctx, "project:create"),
        created_by=ctx.user_id,
    )
    ctx.session.add(row)
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="time_import.started",
        resource_type="time_import",
        resource_id=row.id,
        after={"source": row.source, "filename": row.filename, "dry_run": row.dry_run, "file_hash": row.file_hash},
    )
    jobs.send("run_import", str(ctx.org_id), str(row.id))
    return _import_read(row)


async def get_import(ctx: OrgContext, import_id: uuid.UUID) -> schemas.ImportRead:
    guard.require(ctx, "time_import:read")
    row = await ctx.session.get(TimeImport, (ctx.org_id, import_id))
    if row is None or (row.created_by != ctx.user_id and not guard.allowed(ctx, "team_time:read")):
        raise NotFound("No such import.")
    return _import_read(row)


async def list_imports(ctx: OrgContext, page: PageParams) -> Page[schemas.ImportRead]:
    guard.require(ctx, "time_import:read")
    query = select(TimeImport).where(col(TimeImport.org_id) == ctx.org_id)
    if not guard.allowed(ctx, "team_time:read"):
        query = query.where(col(TimeImport.created_by) == ctx.user_id)
    return await paginate(
        ctx.session,
        query,
        page,
        _import_read,
        order_by=[col(TimeImport.created_at).desc(), col(TimeImport.id)],
        scalars=True,
    )


async def import_row(ctx: OrgContext, row: ImportRow, *, may_create_projects: bool) -> tuple[str, str | None]:
    """Land one export row as an entry, through the same rules as the API; ("duplicate", None) when a
    row with its key was imported before. Returns the name of a project it had to create."""
    exists = await ctx.session.scalar(
        select(col(TimeEntry.id)).where(col(TimeEntry.org_id) == ctx.org_id, col(TimeEntry.import_key) == row.key)
    )
    if exists is not None:
        return "duplicate", None
    person = await ctx.session.scalar(
        select(col(User.id))
        .join(Membership, col(Membership.user_id) == col(User.id))
        .where(
            col(Membership.org_id) == ctx.org_id,
            col(Membership.status) == MembershipStatus.ACTIVE.value,
            func.lower(col(User.email)) == row.email,
        )
    )
    if person is None:
        raise UnprocessableContent(f"No member of this organization has the email address '{row.email}'.")
    project_id = await ctx.session.scalar(
        select(col(Project.id))
        .where(col(Project.org_id) == ctx.org_id, func.lower(col(Project.name)) == row.project.lower())
        .order_by(col(Project.name) == row.project)
    )
    created = None
    if project_id is None:
        if not may_create_projects:
            raise UnprocessableContent(f"No project named '{row.project}', and you may not create projects.")
        project_id = (await projects_service.create_named(ctx, row.project)).id
        created = row.project
    zone = ZoneInfo(await zone_of(ctx, person))
    await create_entry(
        ctx,
        schemas.TimeEntryCreate(
            project_id=project_id,
            user_id=None if person == ctx.user_id else person,
            description=row.description,
            start_at=row.start.replace(tzinfo=zone),
            end_at=row.end.replace(tzinfo=zone),
            billable=row.billable,
            tags=row.tags,
        ),
        source="import",
        import_key=row.key,
    )
    return "imported", created
