"""Users are provisioned just in time from the verified token, and kept in sync with it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.auth import Principal
from backend.core.errors import Forbidden
from backend.core.models import utcnow
from backend.identity.models import User


def _profile(principal: Principal) -> dict[str, object]:
    return {
        "username": principal.username,
        "email": principal.email,
        "display_name": principal.name,
        "is_service_account": principal.is_service_account,
    }


async def ensure_user(session: AsyncSession, principal: Principal) -> User:
    """Return the caller's user row, creating it on first sight and writing only when the token's
    profile differs from what is stored (a plain read on every other request)."""
    return await sync_user(session, principal, await session.get(User, principal.subject))


async def sync_user(session: AsyncSession, principal: Principal, user: User | None) -> User:
    """:func:`ensure_user` for a caller whose row (or its absence) the caller already looked up."""
    profile = _profile(principal)
    if user is None:
        statement = (
            insert(User)
            .values(id=principal.subject, **profile)
            .on_conflict_do_update(index_elements=[User.id], set_={**profile, "updated_at": utcnow()})  # type: ignore[list-item]
            .returning(User)
        )
        user = (await session.scalars(select(User).from_statement(statement))).one()
    elif any(getattr(user, field) != value for field, value in profile.items()):
        for field, value in profile.items():
            setattr(user, field, value)
        user.updated_at = utcnow()
        await session.flush()
    if user.disabled_at is not None:
        raise Forbidden("This account is disabled on the platform.")
    return user
