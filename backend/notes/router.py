from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Response, status

from backend.core.pagination import Page, Paging
from backend.core.validation import CanonicalUUID
from backend.notes import schemas, service
from backend.tenancy.context import CurrentOrg

router = APIRouter(prefix="/orgs/{org_id}/notes", tags=["notes"])


@router.post("", status_code=status.HTTP_201_CREATED, summary="Write a note (private until shared)")
async def create_note(ctx: CurrentOrg, data: schemas.NoteCreate) -> schemas.NoteRead:
    return await service.create(ctx, data)


@router.get("", summary="Notes you can see: pinned first, then newest; `q` searches title and text")
async def list_notes(
    ctx: CurrentOrg,
    page: Paging,
    q: str | None = None,
    project_id: uuid.UUID | None = None,
    client_id: uuid.UUID | None = None,
    pinned: bool | None = None,
    scope: Literal["all", "mine", "shared"] = "all",
) -> Page[schemas.NoteRead]:
    return await service.list_notes(
        ctx, page, q=q, project_id=project_id, client_id=client_id, pinned=pinned, scope=scope
    )


@router.get("/{note_id}", summary="Read a note")
async def read_note(ctx: CurrentOrg, note_id: CanonicalUUID) -> schemas.NoteRead:
    return await service.get(ctx, note_id)


@router.patch("/{note_id}", summary="Change a note (its author or an edit share)")
async def update_note(ctx: CurrentOrg, note_id: CanonicalUUID, data: schemas.NoteUpdate) -> schemas.NoteRead:
    return await service.update(ctx, note_id, data)


@router.delete("/{note_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete your note")
async def delete_note(ctx: CurrentOrg, note_id: CanonicalUUID) -> Response:
    await service.delete(ctx, note_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{note_id}/shares", summary="Who a note is shared with (the author sees all shares)")
async def list_note_shares(ctx: CurrentOrg, note_id: CanonicalUUID) -> list[schemas.ShareRead]:
    return await service.list_shares(ctx, note_id)


@router.post("/{note_id}/shares", summary="Share your note with a member or a project's members")
async def share_note(ctx: CurrentOrg, note_id: CanonicalUUID, data: schemas.ShareCreate) -> schemas.ShareRead:
    return await service.share(ctx, note_id, data)


@router.delete("/{note_id}/shares/{share_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Stop sharing")
async def unshare_note(ctx: CurrentOrg, note_id: CanonicalUUID, share_id: CanonicalUUID) -> Response:
    await service.unshare(ctx, note_id, share_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
