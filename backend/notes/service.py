"""Notes: markdown, private to their author unless shared, pinned, searchable (tsvector).

Visibility is row-level security's job (migration 0005): a note nobody shared with you does not exist
in your transaction, whatever your organization role, so it is a 404 for an org admin too. The service
only decides what you may do with a note you can see (edit: the author or an ``edit`` share; delete and
share: the author). The audit trail records that a note changed, never its title or text: admins and
auditors read the trail, and a private note must stay private from them.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from backend.core import audit
from backend.core.errors import Conflict, Forbidden, NotFound, UnprocessableContent
from backend.core.models import utcnow
from backend.core.pagination import Page, PageParams, paginate
from backend.notes import schemas
from backend.notes.models import Note, NoteShare, SharePermission
from backend.tenancy import guard
from backend.tenancy.context import OrgContext
from backend.tenancy.models import Client, Membership, Project, ProjectMembership

Access = Literal["author", "edit", "view"]


def _reaches_me(ctx: OrgContext) -> ColumnElement[bool]:
    my_projects = select(col(ProjectMembership.project_id)).where(col(ProjectMembership.user_id) == ctx.user_id)
    return or_(col(NoteShare.user_id) == ctx.user_id, col(NoteShare.project_id).in_(my_projects))


async def _access(ctx: OrgContext, note: Note) -> Access:
    if note.author_id == ctx.user_id:
        return "author"
    permissions = set(
        (
            await ctx.session.scalars(
                select(col(NoteShare.permission)).where(col(NoteShare.note_id) == note.id, _reaches_me(ctx))
            )
        ).all()
    )
    return "edit" if SharePermission.EDIT.value in permissions else "view"


def _read(note: Note, access: Access, shares: list[schemas.ShareRead] | None = None) -> schemas.NoteRead:
    return schemas.NoteRead.model_validate(
        {**note.model_dump(exclude={"search"}), "my_access": access, "shares": shares}
    )


async def _check_links(ctx: OrgContext, values: dict[str, Any]) -> None:
    found: Project | Client | None
    if values.get("project_id") is not None:
        found = await ctx.session.get(Project, values["project_id"])
        if found is None or found.org_id != ctx.org_id:
            raise UnprocessableContent("No such project in this organization.", extra={"field": "project_id"})
    if values.get("client_id") is not None:
        found = await ctx.session.get(Client, values["client_id"])
        if found is None or found.org_id != ctx.org_id:
            raise UnprocessableContent("No such client in this organization.", extra={"field": "client_id"})


async def _load(ctx: OrgContext, note_id: uuid.UUID) -> Note:
    note = await ctx.session.get(Note, note_id)
    if note is None:  # includes every note that exists but was not shared with the caller
        raise NotFound("No such note.")
    return note


async def create(ctx: OrgContext, data: schemas.NoteCreate) -> schemas.NoteRead:
    guard.require(ctx, "note:create")
    await _check_links(ctx, data.model_dump())
    note = Note(org_id=ctx.org_id, author_id=ctx.user_id, **data.model_dump())
    ctx.session.add(note)
    await ctx.session.flush()
    await ctx.session.refresh(note, ["search"])
    await audit.record_in(ctx, action="note.created", resource_type="note", resource_id=note.id)
    return _read(note, "author")


async def list_notes(
    ctx: OrgContext,
    page: PageParams,
    *,
    q: str | None = None,
    project_id: uuid.UUID | None = None,
    client_id: uuid.UUID | None = None,
    pinned: bool | None = None,
    scope: Literal["all", "mine", "shared"] = "all",
) -> Page[schemas.NoteRead]:
    """The notes the caller can see: pinned first, then the most recently changed; with ``q``, the best
    full-text matches first."""
    guard.require(ctx, "note:list")
    query = select(Note).where(col(Note.org_id) == ctx.org_id)
    if project_id is not None:
        query = query.where(col(Note.project_id) == project_id)
    if client_id is not None:
        query = query.where(col(Note.client_id) == client_id)
    if pinned is not None:
        query = query.where(col(Note.pinned) == pinned)
    if scope == "mine":
        query = query.where(col(Note.author_id) == ctx.user_id)
    elif scope == "shared":
        query = query.where(col(Note.author_id) != ctx.user_id)
    order: list[Any] = [col(Note.pinned).desc(), col(Note.updated_at).desc(), col(Note.id)]
    if q:
        tsquery = func.websearch_to_tsquery("simple", q)
        query = query.where(col(Note.search).op("@@")(tsquery))
        order = [func.ts_rank(col(Note.search), tsquery).desc(), *order]
    result = await paginate(ctx.session, query, page, lambda note: note, order_by=order, scalars=True)
    shared = {note.id for note in result.items if note.author_id != ctx.user_id}
    edit: set[uuid.UUID] = set()
    if shared:
        edit = set(
            (
                await ctx.session.scalars(
                    select(col(NoteShare.note_id)).where(
                        col(NoteShare.note_id).in_(shared),
                        col(NoteShare.permission) == SharePermission.EDIT.value,
                        _reaches_me(ctx),
                    )
                )
            ).all()
        )

    def access(note: Note) -> Access:
        return "author" if note.id not in shared else "edit" if note.id in edit else "view"

    # Your own notes come with their shares (the page shows private or shared with whom): one query.
    own = [note.id for note in result.items if note.id not in shared]
    shares_of: dict[uuid.UUID, list[schemas.ShareRead]] = {note_id: [] for note_id in own}
    if own:
        for share in await ctx.session.scalars(
            select(NoteShare)
            .where(col(NoteShare.note_id).in_(own))
            .order_by(col(NoteShare.created_at), col(NoteShare.id))
        ):
            shares_of[share.note_id].append(_share_read(share))
    return Page(
        items=[_read(note, access(note), shares_of.get(note.id)) for note in result.items],
        total=result.total,
        limit=result.limit,
        offset=result.offset,
    )


async def get(ctx: OrgContext, note_id: uuid.UUID) -> schemas.NoteRead:
    guard.require(ctx, "note:read")
    note = await _load(ctx, note_id)
    return _read(note, await _access(ctx, note))


async def update(ctx: OrgContext, note_id: uuid.UUID, data: schemas.NoteUpdate) -> schemas.NoteRead:
    guard.require(ctx, "note:update")
    note = await _load(ctx, note_id)
    access = await _access(ctx, note)
    if access == "view":
        raise Forbidden("This note is shared with you to read, not to edit.")
    changes = {
        k: v
        for k, v in data.model_dump(exclude_unset=True).items()
        if not (k in {"title", "body", "pinned"} and v is None)
    }
    await _check_links(ctx, changes)
    changed = sorted(field for field, value in changes.items() if getattr(note, field) != value)
    if changed:
        for field in changed:
            setattr(note, field, changes[field])
        note.updated_at = utcnow()
        await ctx.session.flush()
        await ctx.session.refresh(note, ["search"])
        await audit.record_in(
            ctx, action="note.updated", resource_type="note", resource_id=note.id, after={"changed": changed}
        )
    return _read(note, access)


async def delete(ctx: OrgContext, note_id: uuid.UUID) -> None:
    guard.require(ctx, "note:delete")
    note = await _load(ctx, note_id)
    if note.author_id != ctx.user_id:
        raise Forbidden("Only its author may delete a note.")
    await ctx.session.delete(note)
    await ctx.session.flush()
    await audit.record_in(ctx, action="note.deleted", resource_type="note", resource_id=note.id)


def _share_read(share: NoteShare) -> schemas.ShareRead:
    return schemas.ShareRead.model_validate(share, from_attributes=True)


async def list_shares(ctx: OrgContext, note_id: uuid.UUID) -> list[schemas.ShareRead]:
    guard.require(ctx, "note:read")
    note = await _load(ctx, note_id)
    shares = await ctx.session.scalars(
        select(NoteShare)
        .where(col(NoteShare.note_id) == note.id)
        .order_by(col(NoteShare.created_at), col(NoteShare.id))
    )
    return [_share_read(share) for share in shares.all()]


async def share(ctx: OrgContext, note_id: uuid.UUID, data: schemas.ShareCreate) -> schemas.ShareRead:
    """Share the note (or change an existing share's permission). Only the author shares."""
    guard.require(ctx, "note:share")
    note = await _load(ctx, note_id)
    if note.author_id != ctx.user_id:
        raise Forbidden("Only its author may share a note.")
    if data.user_id is not None:
        member = await ctx.session.get(Membership, (ctx.org_id, data.user_id))
        if member is None or member.status != "active":
            raise UnprocessableContent("No such member in this organization.", extra={"field": "user_id"})
        if data.user_id == ctx.user_id:
            raise UnprocessableContent("A note is always visible to its author.", extra={"field": "user_id"})
        target = col(NoteShare.user_id) == data.user_id
    else:
        await _check_links(ctx, {"project_id": data.project_id})
        target = col(NoteShare.project_id) == data.project_id
    existing = await ctx.session.scalar(select(NoteShare).where(and_(col(NoteShare.note_id) == note.id, target)))
    before = {"permission": existing.permission} if existing else None
    if existing is None:
        existing = NoteShare(
            org_id=ctx.org_id,
            note_id=note.id,
            note_author_id=note.author_id,
            user_id=data.user_id,
            project_id=data.project_id,
            permission=data.permission.value,
        )
        ctx.session.add(existing)
    else:
        existing.permission = data.permission.value
    try:
        await ctx.session.flush()
    except IntegrityError:
        raise Conflict("This note was just shared with them; retry.") from None
    if before != {"permission": data.permission.value}:
        await audit.record_in(
            ctx,
            action="note.shared",
            resource_type="note",
            resource_id=note.id,
            before=before,
            after={"user_id": data.user_id, "project_id": data.project_id, "permission": data.permission.value},
        )
    return _share_read(existing)


async def unshare(ctx: OrgContext, note_id: uuid.UUID, share_id: uuid.UUID) -> None:
    guard.require(ctx, "note:share")
    note = await _load(ctx, note_id)
    if note.author_id != ctx.user_id:
        raise Forbidden("Only its author may change who a note is shared with.")
    existing = await ctx.session.get(NoteShare, share_id)
    if existing is None or existing.note_id != note.id:
        raise NotFound("No such share.")
    await ctx.session.delete(existing)
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="note.unshared",
        resource_type="note",
        resource_id=note.id,
        before={"user_id": existing.user_id, "project_id": existing.project_id, "permission": existing.permission},
    )
