"""Personal API tokens: create (shown once), list (yours, or the organization's for admins), revoke."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlmodel import col

from backend.core import audit
from backend.core.errors import Forbidden, NotFound, UnprocessableContent
from backend.core.models import utcnow
from backend.core.pagination import Page, PageParams, paginate
from backend.tenancy import guard
from backend.tenancy.context import OrgContext
from backend.tenancy.tokens import MAX_LIFETIME_DAYS, PersonalToken, digest, hint, may_hold, new_secret
from backend.tokens import schemas


def _read(token: PersonalToken) -> schemas.PersonalTokenRead:
    return schemas.PersonalTokenRead.model_validate(token, from_attributes=True)


def _state(token: PersonalToken) -> dict[str, object]:
    return {
        "name": token.name,
        "role": token.role,
        "user_id": str(token.user_id),
        "expires_at": token.expires_at.isoformat(),
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


async def create(ctx: OrgContext, data: schemas.PersonalTokenCreate) -> schemas.PersonalTokenCreated:
    guard.require(ctx, "personal_token:create")
    if ctx.principal.is_personal_token:
        raise Forbidden("A personal token cannot create personal tokens; sign in to do that.")
    role = data.role or ctx.role
    if not may_hold(ctx.role, role):
        raise Forbidden(f"A token's role must be yours ({ctx.role}) or lower.")
    now = utcnow()
    if data.expires_at <= now:
        raise UnprocessableContent("expires_at must be in the future.", extra={"field": "expires_at"})
    if data.expires_at > now + timedelta(days=MAX_LIFETIME_DAYS):
        raise UnprocessableContent("A personal token may live at most one year.", extra={"field": "expires_at"})
    secret = new_secret()
    token = PersonalToken(
        org_id=ctx.org_id,
        user_id=ctx.user_id,
        name=data.name,
        role=role.value,
        token_hash=digest(secret),
        hint=hint(secret),
        created_at=now,
        expires_at=data.expires_at,
    )
    ctx.session.add(token)
    await ctx.session.flush()
    await audit.record_in(
        ctx, action="personal_token.created", resource_type="personal_token", resource_id=token.id, after=_state(token)
    )
    return schemas.PersonalTokenCreated(**_read(token).model_dump(), token=secret)


async def list_tokens(ctx: OrgContext, page: PageParams, *, everyone: bool) -> Page[schemas.PersonalTokenRead]:
    query = select(PersonalToken).where(col(PersonalToken.org_id) == ctx.org_id)
    if everyone:
        guard.require(ctx, "personal_token:read")
    else:
        guard.require(ctx, "personal_token:list")
        query = query.where(col(PersonalToken.user_id) == ctx.user_id)
    order = [col(PersonalToken.created_at).desc(), col(PersonalToken.id)]
    return await paginate(ctx.session, query, page, _read, order_by=order, scalars=True)


async def revoke(ctx: OrgContext, token_id: uuid.UUID) -> None:
    guard.require(ctx, "personal_token:revoke")  # your own; someone else's needs revoke_any below
    token = await ctx.session.get(PersonalToken, token_id, with_for_update=True)
    if token is None or token.org_id != ctx.org_id:
        raise NotFound("No such personal token.")
    if token.user_id != ctx.user_id:
        guard.require(ctx, "personal_token:revoke_any")
    if token.revoked_at is not None:
        return
    before = _state(token)
    token.revoked_at = utcnow()
    token.revoked_by = ctx.user_id
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="personal_token.revoked",
        resource_type="personal_token",
        resource_id=token.id,
        before=before,
        after=_state(token),
    )
