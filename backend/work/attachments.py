"""Attachments on tasks and comments: streamed multipart uploads, sniffed types, SHA-256, downloads.

The upload is parsed as it arrives (python-multipart's streaming parser fed from ``request.stream()``):
the file part goes straight into a scratch file while it is hashed and counted, and the upload is
refused (413) the moment it passes the maximum. Whatever goes wrong before the file is stored, the
scratch file is removed, so an interrupted or refused upload leaves no file behind. The stored file
follows the transaction (backend/core/storage.py): removed if the row's commit fails, and a deleted
row's file is removed only after its deletion commits.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import IO

from python_multipart.multipart import MultipartParser, parse_options_header
from sqlalchemy import select
from sqlmodel import col
from starlette.requests import ClientDisconnect, Request

from backend.core import audit
from backend.core.errors import Forbidden, NotFound, ProblemError, UnprocessableContent
from backend.core.pagination import Page, PageParams, paginate
from backend.core.storage import Received, Storage, delete_after_commit, put_in, sniff
from backend.settings import Settings
from backend.tenancy import guard
from backend.tenancy.context import ProjectContext
from backend.work import comments, schemas
from backend.work.models import Attachment
from backend.work.service import task_in_project

#: Room for the multipart framing around the file itself.
_FRAMING = 16 * 1024
_HEAD = 8 * 1024


class PayloadTooLarge(ProblemError):
    status = 413
    type_slug = "payload-too-large"
    title = "The upload is too large"


class UploadInterrupted(ProblemError):
    status = 400
    type_slug = "upload-interrupted"
    title = "The upload was interrupted"


class UnsupportedMediaType(ProblemError):
    status = 415
    type_slug = "unsupported-media-type"
    title = "Unsupported media type"


def _read(attachment: Attachment) -> schemas.AttachmentRead:
    return schemas.AttachmentRead.model_validate(attachment, from_attributes=True)


def _safe_filename(name: str) -> str:
    name = os.path.basename(name.replace("\\", "/")).strip()
    name = re.sub(r"[\x00-\x1f\x7f]", "", name)[:255]
    return name or "file"


@dataclass
class _Part:
    field: str = ""
    filename: str | None = None


async def _receive(request: Request, storage: Storage, settings: Settings) -> tuple[Received, str]:
    """Stream the request's ``file`` part into a scratch file; return it and the client's filename."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UnsupportedMediaType("Send the file as multipart/form-data with a 'file' part.")
    limit = settings.attachment_max_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + _FRAMING:
        raise PayloadTooLarge(f"Attachments may be at most {limit} bytes.", extra={"field": "file", "max_bytes": limit})

    scratch: IO[bytes] = storage.scratch()
    received = Received(path=scratch.name)
    part, header_field, header_value = _Part(), bytearray(), bytearray()
    found: list[_Part] = []
    state = {"writing": False, "too_large": False}

    def on_part_begin() -> None:
        nonlocal part
        part = _Part()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        if bytes(header_field).lower() == b"content-disposition":
            _, params = parse_options_header(bytes(header_value))
            part.field = params.get(b"name", b"").decode("utf-8", "replace")
            if b"filename" in params:
                part.filename = params[b"filename"].decode("utf-8", "replace")
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        state["writing"] = part.field == "file" and part.filename is not None and not found
        if state["writing"]:
            found.append(part)

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if not state["writing"] or state["too_large"]:
            return
        chunk = data[start:end]
        received.size += len(chunk)
        if received.size > limit:
            state["too_large"] = True
            return
        if len(received.head) < _HEAD:
            received.head += chunk[: _HEAD - len(received.head)]
        received.sha256.update(chunk)
        scratch.write(chunk)

    def on_part_end() -> None:
        state["writing"] = False

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            if state["too_large"]:
                raise PayloadTooLarge(
                    f"Attachments may be at most {limit} bytes.", extra={"field": "file", "max_bytes": limit}
                )
        parser.finalize()
        scratch.close()
        if not found:
            raise UnprocessableContent("The form has no 'file' part with a filename.", extra={"field": "file"})
        return received, found[0].filename or "file"
    except ClientDisconnect:
        scratch.close()
        os.unlink(scratch.name)
        raise UploadInterrupted("The client went away before the upload was complete; nothing was stored.") from None
    except BaseException:
        with contextlib.suppress(OSError):  # closing flushes, and a full disk refuses that too
            scratch.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(scratch.name)
        raise


async def upload(
    ctx: ProjectContext,
    task_id: uuid.UUID,
    request: Request,
    storage: Storage,
    settings: Settings,
    *,
    comment_id: uuid.UUID | None = None,
) -> schemas.AttachmentRead:
    guard.require(ctx, "attachment:create")
    task = await task_in_project(ctx, task_id)
    if comment_id is not None:
        comment = await comments.load(ctx, task_id, comment_id)
        if comment.author_id != ctx.user_id:
            raise Forbidden("Only its author may attach files to a comment.")
    received, filename = await _receive(request, storage, settings)
    key = f"{ctx.org_id}/{uuid.uuid4()}"
    try:
        content_type = sniff(received.head)
        if content_type not in settings.attachment_allowed_types:
            raise UnsupportedMediaType(
                f"Files of type {content_type} are not accepted.",
                extra={"field": "file", "content_type": content_type, "allowed": settings.attachment_allowed_types},
            )
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(received.path)
        raise
    # Pending until the commit: if anything below or the commit itself fails, the unit of work removes it.
    await put_in(ctx.session, storage, key, received.path)
    attachment = Attachment(
        org_id=ctx.org_id,
        task_id=task.id,
        comment_id=comment_id,
        filename=_safe_filename(filename),
        content_type=content_type,
        size_bytes=received.size,
        sha256=received.sha256.hexdigest(),
        storage_key=key,
        uploaded_by=ctx.user_id,
    )
    ctx.session.add(attachment)
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="attachment.created",
        resource_type="attachment",
        resource_id=attachment.id,
        after={
            "task_id": task.id,
            "comment_id": comment_id,
            "filename": attachment.filename,
            "content_type": content_type,
            "size_bytes": received.size,
            "sha256": attachment.sha256,
        },
    )
    return _read(attachment)


async def list_attachments(ctx: ProjectContext, task_id: uuid.UUID, page: PageParams) -> Page[schemas.AttachmentRead]:
    guard.require(ctx, "attachment:list")
    task = await task_in_project(ctx, task_id)
    query = select(Attachment).where(col(Attachment.task_id) == task.id)
    return await paginate(
        ctx.session, query, page, _read, order_by=[col(Attachment.created_at), col(Attachment.id)], scalars=True
    )


async def _load(ctx: ProjectContext, task_id: uuid.UUID, attachment_id: uuid.UUID) -> Attachment:
    task = await task_in_project(ctx, task_id)
    attachment = await ctx.session.get(Attachment, attachment_id)
    if attachment is None or attachment.task_id != task.id:
        raise NotFound("No such attachment.")
    return attachment


async def get(ctx: ProjectContext, task_id: uuid.UUID, attachment_id: uuid.UUID) -> schemas.AttachmentRead:
    guard.require(ctx, "attachment:read")
    return _read(await _load(ctx, task_id, attachment_id))


async def download(
    ctx: ProjectContext, task_id: uuid.UUID, attachment_id: uuid.UUID, storage: Storage
) -> tuple[Attachment, AsyncIterator[bytes]]:
    guard.require(ctx, "attachment:read")
    attachment = await _load(ctx, task_id, attachment_id)
    return attachment, storage.read(attachment.storage_key)


async def delete(ctx: ProjectContext, task_id: uuid.UUID, attachment_id: uuid.UUID, storage: Storage) -> None:
    guard.require(ctx, "attachment:delete")
    attachment = await _load(ctx, task_id, attachment_id)
    if attachment.uploaded_by != ctx.user_id and not guard.allowed(ctx, "task:manage"):
        raise Forbidden("Only its uploader or a project lead may delete an attachment.")
    await ctx.session.delete(attachment)
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="attachment.deleted",
        resource_type="attachment",
        resource_id=attachment.id,
        before={"filename": attachment.filename, "sha256": attachment.sha256, "size_bytes": attachment.size_bytes},
    )
    # Only once the row's deletion has committed: a failed commit keeps the row and its bytes.
    delete_after_commit(ctx.session, storage, attachment.storage_key)
