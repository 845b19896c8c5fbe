"""Comments on tasks: markdown, oldest first. Authors edit and delete their own; leads delete any."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlmodel import col

from backend.core import audit
from backend.core.errors import Forbidden, NotFound
from backend.core.models import utcnow
from backend.core.pagination import Page, PageParams, paginate
from backend.core.storage import Storage, delete_after_commit
from backend.tenancy import guard
from backend.tenancy.context import ProjectContext
from backend.work import schemas
from backend.work.models import Attachment, Comment
from backend.work.service import task_in_project


def _read(comment: Comment) -> schemas.CommentRead:
    return schemas.CommentRead.model_validate(comment, from_attributes=True)


async def create(ctx: ProjectContext, task_id: uuid.UUID, data: schemas.CommentWrite) -> schemas.CommentRead:
    guard.require(ctx, "comment:create")
    task = await task_in_project(ctx, task_id)
    comment = Comment(org_id=ctx.org_id, task_id=task.id, author_id=ctx.user_id, body=data.body)
    ctx.session.add(comment)
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="comment.created",
        resource_type="comment",
        resource_id=comment.id,
        after={"task_id": task.id, "body": comment.body},
    )
    return _read(comment)


async def list_comments(ctx: ProjectContext, task_id: uuid.UUID, page: PageParams) -> Page[schemas.CommentRead]:
    guard.require(ctx, "comment:list")
    task = await task_in_project(ctx, task_id)
    query = select(Comment).where(col(Comment.task_id) == task.id)
    return await paginate(
        ctx.session, query, page, _read, order_by=[col(Comment.created_at), col(Comment.id)], scalars=True
    )


async def load(ctx: ProjectContext, task_id: uuid.UUID, comment_id: uuid.UUID, *, lock: bool = False) -> Comment:
    task = await task_in_project(ctx, task_id)
    comment = await ctx.session.get(Comment, comment_id, with_for_update=lock)
    if comment is None or comment.task_id != task.id:
        raise NotFound("No such comment.")
    return comment


async def update(
    ctx: ProjectContext, task_id: uuid.UUID, comment_id: uuid.UUID, data: schemas.CommentWrite
) -> schemas.CommentRead:
    guard.require(ctx, "comment:update")
    comment = await load(ctx, task_id, comment_id, lock=True)
    if comment.author_id != ctx.user_id:
        raise Forbidden("Only its author may edit a comment.")
    if comment.body != data.body:
        before = {"body": comment.body}
        comment.body, comment.edited_at = data.body, utcnow()
        await ctx.session.flush()
        await audit.record_in(
            ctx,
            action="comment.updated",
            resource_type="comment",
            resource_id=comment.id,
            before=before,
            after={"body": comment.body},
        )
    return _read(comment)


async def delete(ctx: ProjectContext, task_id: uuid.UUID, comment_id: uuid.UUID, storage: Storage) -> None:
    """Its attachments go with it: their rows by cascade, their files here."""
    guard.require(ctx, "comment:delete")
    comment = await load(ctx, task_id, comment_id, lock=True)
    if comment.author_id != ctx.user_id and not guard.allowed(ctx, "comment:moderate"):
        raise Forbidden("Only its author or a project lead may delete a comment.")
    files = (
        await ctx.session.scalars(select(col(Attachment.storage_key)).where(col(Attachment.comment_id) == comment.id))
    ).all()
    await ctx.session.delete(comment)
    await ctx.session.flush()
    for key in files:
        delete_after_commit(ctx.session, storage, key)
    await audit.record_in(
        ctx,
        action="comment.deleted",
        resource_type="comment",
        resource_id=comment.id,
        before={"task_id": comment.task_id, "author_id": comment.author_id, "body": comment.body},
    )
