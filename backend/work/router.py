from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import StreamingResponse

from backend.core.conditional import IfMatch, set_etag
from backend.core.pagination import Page, Paging
from backend.core.storage import Storage, get_storage
from backend.core.validation import CanonicalUUID
from backend.settings import Settings
from backend.tenancy.context import CurrentOrg, CurrentProject
from backend.work import attachments, comments, schemas, service
from backend.work.models import TaskStatus

router = APIRouter(tags=["tasks"])
TASKS = "/orgs/{org_id}/projects/{project_id}/tasks"
SORT_HELP = "number, -number, due_date, priority or -updated_at"


@router.post(TASKS, status_code=status.HTTP_201_CREATED, summary="Create a task (numbered per project)")
async def create_task(ctx: CurrentProject, data: schemas.TaskCreate) -> schemas.TaskRead:
    return await service.create(ctx, data)


@router.get(TASKS, summary="List the project's tasks (deleted ones excluded)", description=f"sort: {SORT_HELP}")
async def list_tasks(
    ctx: CurrentProject,
    page: Paging,
    status: TaskStatus | None = None,
    assignee: str | None = None,
    label: str | None = None,
    due_before: date | None = None,
    q: str | None = None,
    sort: str = "number",
) -> Page[schemas.TaskRead]:
    return await service.list_tasks(
        ctx, page, status=status, assignee=assignee, label=label, due_before=due_before, search=q, sort=sort
    )


@router.get(
    "/orgs/{org_id}/tasks",
    summary="Tasks across the projects you can read, e.g. ?assignee=me",
    description=f"sort: {SORT_HELP} (default due_date)",
)
async def list_org_tasks(
    ctx: CurrentOrg,
    page: Paging,
    status: TaskStatus | None = None,
    assignee: str | None = None,
    label: str | None = None,
    due_before: date | None = None,
    q: str | None = None,
    sort: str = "due_date",
) -> Page[schemas.TaskRead]:
    return await service.list_org_tasks(
        ctx, page, status=status, assignee=assignee, label=label, due_before=due_before, search=q, sort=sort
    )


@router.get(TASKS + "/{task_id}", summary="Read a task (with its ETag)")
async def read_task(ctx: CurrentProject, task_id: CanonicalUUID, response: Response) -> schemas.TaskRead:
    task = await service.get(ctx, task_id)
    set_etag(response, task)
    return task


@router.patch(TASKS + "/{task_id}", summary="Change a task (contributors: tasks assigned to them; If-Match)")
async def update_task(
    ctx: CurrentProject, task_id: CanonicalUUID, data: schemas.TaskUpdate, response: Response, if_match: IfMatch = None
) -> schemas.TaskRead:
    task = await service.update(ctx, task_id, data, if_match=if_match)
    set_etag(response, task)
    return task


@router.delete(TASKS + "/{task_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a task (restorable)")
async def delete_task(ctx: CurrentProject, task_id: CanonicalUUID) -> Response:
    await service.delete(ctx, task_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(TASKS + "/{task_id}/restore", summary="Restore a deleted task")
async def restore_task(ctx: CurrentProject, task_id: CanonicalUUID) -> schemas.TaskRead:
    return await service.restore(ctx, task_id)


COMMENTS = TASKS + "/{task_id}/comments"
ATTACHMENTS = TASKS + "/{task_id}/attachments"
Store = Annotated[Storage, Depends(get_storage)]
UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.post(COMMENTS, status_code=status.HTTP_201_CREATED, summary="Comment on a task (markdown)", tags=["comments"])
async def create_comment(
    ctx: CurrentProject, task_id: CanonicalUUID, data: schemas.CommentWrite
) -> schemas.CommentRead:
    return await comments.create(ctx, task_id, data)


@router.get(COMMENTS, summary="A task's comments, oldest first", tags=["comments"])
async def list_comments(ctx: CurrentProject, task_id: CanonicalUUID, page: Paging) -> Page[schemas.CommentRead]:
    return await comments.list_comments(ctx, task_id, page)


@router.patch(COMMENTS + "/{comment_id}", summary="Edit your comment", tags=["comments"])
async def update_comment(
    ctx: CurrentProject, task_id: CanonicalUUID, comment_id: CanonicalUUID, data: schemas.CommentWrite
) -> schemas.CommentRead:
    return await comments.update(ctx, task_id, comment_id, data)


@router.delete(
    COMMENTS + "/{comment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a comment (yours, or any as lead)",
    tags=["comments"],
)
async def delete_comment(
    ctx: CurrentProject, task_id: CanonicalUUID, comment_id: CanonicalUUID, storage: Store
) -> Response:
    await comments.delete(ctx, task_id, comment_id, storage)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    ATTACHMENTS,
    status_code=status.HTTP_201_CREATED,
    summary="Attach a file to a task (multipart/form-data, part 'file')",
    tags=["attachments"],
    openapi_extra=UPLOAD_DOC,
)
async def upload_attachment(
    ctx: CurrentProject, task_id: CanonicalUUID, request: Request, storage: Store
) -> schemas.AttachmentRead:
    return await attachments.upload(ctx, task_id, request, storage, _settings(request))


@router.post(
    COMMENTS + "/{comment_id}/attachments",
    status_code=status.HTTP_201_CREATED,
    summary="Attach a file to your comment (multipart/form-data, part 'file')",
    tags=["attachments"],
    openapi_extra=UPLOAD_DOC,
)
async def upload_comment_attachment(
    ctx: CurrentProject, task_id: CanonicalUUID, comment_id: CanonicalUUID, request: Request, storage: Store
) -> schemas.AttachmentRead:
    return await attachments.upload(ctx, task_id, request, storage, _settings(request), comment_id=comment_id)


@router.get(ATTACHMENTS, summary="A task's attachments (its comments' included), oldest first", tags=["attachments"])
async def list_attachments(ctx: CurrentProject, task_id: CanonicalUUID, page: Paging) -> Page[schemas.AttachmentRead]:
    return await attachments.list_attachments(ctx, task_id, page)


@router.get(ATTACHMENTS + "/{attachment_id}", summary="An attachment's details", tags=["attachments"])
async def read_attachment(
    ctx: CurrentProject, task_id: CanonicalUUID, attachment_id: CanonicalUUID
) -> schemas.AttachmentRead:
    return await attachments.get(ctx, task_id, attachment_id)


@router.get(
    ATTACHMENTS + "/{attachment_id}/content",
    summary="Download an attachment",
    tags=["attachments"],
    response_class=StreamingResponse,
)
async def download_attachment(
    ctx: CurrentProject, task_id: CanonicalUUID, attachment_id: CanonicalUUID, storage: Store
) -> StreamingResponse:
    attachment, body = await attachments.download(ctx, task_id, attachment_id, storage)
    return StreamingResponse(
        body,
        media_type=attachment.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(attachment.filename)}",
            "Content-Length": str(attachment.size_bytes),
            "X-Content-Type-Options": "nosniff",
            "Digest": f"sha-256={attachment.sha256}",
        },
    )


@router.delete(
    ATTACHMENTS + "/{attachment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an attachment (yours, or any as lead) and its file",
    tags=["attachments"],
)
async def delete_attachment(
    ctx: CurrentProject, task_id: CanonicalUUID, attachment_id: CanonicalUUID, storage: Store
) -> Response:
    await attachments.delete(ctx, task_id, attachment_id, storage)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
