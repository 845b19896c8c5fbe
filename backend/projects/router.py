from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from fastapi import status as http_status

from backend.core.conditional import IfMatch, set_etag
from backend.core.pagination import Page, Paging
from backend.core.validation import CanonicalUUID
from backend.projects import schemas, service
from backend.tenancy.context import CurrentOrg, CurrentProject, CurrentProjectRead
from backend.tenancy.models import ProjectStatus

router = APIRouter(prefix="/orgs/{org_id}/projects", tags=["projects"])


@router.post("", status_code=http_status.HTTP_201_CREATED, summary="Create a project (you become its lead)")
async def create_project(ctx: CurrentOrg, data: schemas.ProjectCreate) -> schemas.ProjectRead:
    return await service.create(ctx, data)


@router.get("", summary="List the organization's projects (by name), filtered by client, status, tag")
async def list_projects(
    ctx: CurrentOrg,
    page: Paging,
    include_archived: bool = False,
    client_id: uuid.UUID | None = None,
    status: ProjectStatus | None = None,
    tag: str | None = None,
) -> Page[schemas.ProjectRead]:
    return await service.list_projects(
        ctx, page, include_archived=include_archived, client_id=client_id, status=status, tag=tag
    )


@router.get("/{project_id}", summary="Read a project")
async def read_project(ctx: CurrentProjectRead, response: Response) -> schemas.ProjectRead:
    project = await service.get(ctx)
    set_etag(response, service.without_burn(project))
    return project


@router.patch("/{project_id}", summary="Change a project's name, key, client, status, dates, budget or billing")
async def update_project(
    ctx: CurrentProject, data: schemas.ProjectUpdate, response: Response, if_match: IfMatch = None
) -> schemas.ProjectRead:
    project = await service.update(ctx, data, if_match=if_match)
    set_etag(response, project)
    return project


@router.post("/{project_id}/archive", summary="Archive a project (read-only afterwards)")
async def archive_project(ctx: CurrentProject) -> schemas.ProjectRead:
    return await service.archive(ctx)


@router.get("/{project_id}/members", summary="List the project's members and their roles")
async def list_project_members(ctx: CurrentProject) -> list[schemas.ProjectMemberRead]:
    return await service.list_members(ctx)


@router.put("/{project_id}/members/{user_id}", summary="Give an organization member a role in the project")
async def assign_project_role(
    ctx: CurrentProject, user_id: CanonicalUUID, data: schemas.ProjectRoleAssignment
) -> schemas.ProjectMemberRead:
    return await service.assign_role(ctx, user_id, data)


@router.delete("/{project_id}/members/{user_id}", status_code=http_status.HTTP_204_NO_CONTENT)
async def remove_project_member(ctx: CurrentProject, user_id: CanonicalUUID) -> Response:
    await service.remove_member(ctx, user_id)
    return Response(status_code=http_status.HTTP_204_NO_CONTENT)
