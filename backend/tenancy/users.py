"""People are provisioned just in time from the verified token, and kept in sync with it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.core.auth import Principal
from backend.core.db import SINGLE_STATEMENT, NeedsTransaction
from backend.core.errors import Forbidden
from backend.core.models import utcnow
from backend.tenancy.models import User


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: uuid.UUID
    username: str | None
    email: str | None
    display_name: str | None
    is_service_account: bool


def _from_token(principal: Principal) -> UserInfo:
    return UserInfo(
        id=principal.subject,
        username=principal.username,
        email=principal.email,
        display_name=principal.name,
        is_service_account=principal.is_service_account,
    )


async def sync_user(session: AsyncSession, principal: Principal, row: Row[Any]) -> UserInfo:
    """The caller as the token describes them. ``row`` is what ``app_enter`` found stored; the user row
    is written only on first sight or when the token's profile changed (a plain read otherwise)."""
    token = _from_token(principal)
    stored = (
        UserInfo(principal.subject, row.username, row.email, row.display_name, row.is_service_account)
        if row.user_known
        else None
    )
    if stored != token:
        if session.info.get(SINGLE_STATEMENT):
            raise NeedsTransaction
        profile = {
            "username": token.username,
            "email": token.email,
            "display_name": token.display_name,
            "is_service_account": token.is_service_account,
        }
        await session.execute(
            insert(User)
            .values(id=token.id, **profile)
            .on_conflict_do_update(index_elements=[col(User.id)], set_={**profile, "updated_at": utcnow()})
        )
    if row.disabled_at is not None:
        raise Forbidden("This account is disabled on the platform.")
    return token
