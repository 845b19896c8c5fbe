"""Clients: the organization's customers. Projects may belong to one; a client with projects is archived,
never deleted."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from backend.clients import schemas
from backend.core import audit
from backend.core.errors import Conflict, NotFound
from backend.core.models import utcnow
from backend.core.pagination import Page, PageParams, paginate
from backend.tenancy import guard
from backend.tenancy.context import OrgContext
from backend.tenancy.models import Client, Project

_FIELDS = ("name", "contact_name", "contact_email", "notes", "archived_at")


def _state(client: Client) -> dict[str, Any]:
    return {field: getattr(client, field) for field in _FIELDS}


def _read(client: Client) -> schemas.ClientRead:
    return schemas.ClientRead.model_validate(client, from_attributes=True)


async def _flush_unique_name(ctx: OrgContext, name: str) -> None:
    try:
        await ctx.session.flush()
    except IntegrityError:
        raise Conflict(f"A client named '{name}' already exists here.", extra={"field": "name"}) from None


async def _load(ctx: OrgContext, client_id: uuid.UUID, *, lock: bool = False) -> Client:
    client = await ctx.session.get(Client, client_id, with_for_update=lock)
    if client is None or client.org_id != ctx.org_id:
        raise NotFound("No such client.")
    return client


async def create(ctx: OrgContext, data: schemas.ClientCreate) -> schemas.ClientRead:
    guard.require(ctx, "client:create")
    client = Client(org_id=ctx.org_id, **data.model_dump())
    ctx.session.add(client)
    await _flush_unique_name(ctx, data.name)
    await audit.record_in(
        ctx, action="client.created", resource_type="client", resource_id=client.id, after=_state(client)
    )
    return _read(client)


async def list_clients(
    ctx: OrgContext, page: PageParams, *, include_archived: bool = False, search: str | None = None
) -> Page[schemas.ClientRead]:
    guard.require(ctx, "client:list")
    query = select(Client).where(col(Client.org_id) == ctx.org_id)
    if not include_archived:
        query = query.where(col(Client.archived_at).is_(None))
    if search:
        # A trailing backslash, % or _ matches literally (a bare backslash was a 500, found by schemathesis).
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(col(Client.name).ilike(f"%{escaped}%"))
    return await paginate(
        ctx.session, query, page, _read, order_by=[func.lower(col(Client.name)), col(Client.id)], scalars=True
    )


async def get(ctx: OrgContext, client_id: uuid.UUID) -> schemas.ClientRead:
    guard.require(ctx, "client:read")
    return _read(await _load(ctx, client_id))


async def update(ctx: OrgContext, client_id: uuid.UUID, data: schemas.ClientUpdate) -> schemas.ClientRead:
    guard.require(ctx, "client:update")
    client = await _load(ctx, client_id, lock=True)
    before = _state(client)
    for field, value in data.model_dump(exclude_unset=True).items():
        if field == "name" and value is None:
            continue
        setattr(client, field, value)
    if _state(client) != before:
        client.updated_at = utcnow()
        await _flush_unique_name(ctx, client.name)
        await audit.record_in(
            ctx,
            action="client.updated",
            resource_type="client",
            resource_id=client.id,
            before=before,
            after=_state(client),
        )
    return _read(client)


async def archive(ctx: OrgContext, client_id: uuid.UUID) -> schemas.ClientRead:
    guard.require(ctx, "client:update")
    client = await _load(ctx, client_id, lock=True)
    if client.archived_at is None:
        before = _state(client)
        client.archived_at = client.updated_at = utcnow()
        await ctx.session.flush()
        await audit.record_in(
            ctx,
            action="client.archived",
            resource_type="client",
            resource_id=client.id,
            before=before,
            after=_state(client),
        )
    return _read(client)


async def delete(ctx: OrgContext, client_id: uuid.UUID) -> None:
    guard.require(ctx, "client:delete")
    client = await _load(ctx, client_id, lock=True)
    has_projects = await ctx.session.scalar(
        select(exists().where(col(Project.org_id) == ctx.org_id, col(Project.client_id) == client.id))
    )
    if has_projects:
        raise Conflict("This client has projects; archive it instead.")
    before = _state(client)
    await ctx.session.delete(client)
    try:
        await ctx.session.flush()
    except IntegrityError:  # still linked, e.g. from notes the caller cannot see
        raise Conflict("This client is still referenced; archive it instead.") from None
    await audit.record_in(ctx, action="client.deleted", resource_type="client", resource_id=client.id, before=before)
