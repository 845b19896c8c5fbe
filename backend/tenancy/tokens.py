"""Personal API tokens: a second way to present a bearer token, resolved to the same kind of Principal.

A token is ``wt_pat_`` followed by 32 random bytes (base64url). Only its SHA-256 digest is stored, so a
database leak reveals no usable token; the plaintext is shown once, when it is created. A token belongs to
one person *and* one organization, and carries a role that caps the person's membership role there: the
effective role is the token's role when the membership's current role reaches it, else the membership's
own when that is the lower, and the token is refused when the two no longer compare (see
:func:`effective_role`). The token row references the membership (``ON DELETE CASCADE``), so removing a
member deletes their tokens, and resolution also requires an active membership and an enabled user, so
the next request after a removal or a revocation fails.

Resolution runs ``app_personal_token()`` (a SECURITY DEFINER function: the token's organization is not
known before the lookup, so row-level security cannot be bound first). It returns only the row that
matches the digest, only while the token is unrevoked and unexpired, and stamps ``last_used_at``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    String,
    bindparam,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field, SQLModel

from backend.core.auth import PERSONAL_TOKEN_PREFIX, Principal
from backend.core.db import Database
from backend.core.errors import NotAuthenticated
from backend.core.models import tenant_fk, timestamp_field, uuid_pk
from backend.tenancy.roles import OrgRole, sql_check

#: The longest a personal token may live.
MAX_LIFETIME_DAYS = 366
CLIENT_ID = "personal-token"


class PersonalToken(SQLModel, table=True):
    __tablename__ = "personal_tokens"
    __table_args__ = (
        tenant_fk("org_id"),
        ForeignKeyConstraint(
            ["org_id", "user_id"],
            ["memberships.org_id", "memberships.user_id"],
            ondelete="CASCADE",
            name="fk_personal_tokens_membership",
        ),
        CheckConstraint(sql_check("role", OrgRole), name="role"),
        Index("ix_personal_tokens_org_id_user_id", "org_id", "user_id"),
    )

    id: uuid.UUID = uuid_pk()
    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    user_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    name: str = Field(sa_column=Column(String(100), nullable=False))
    role: str = Field(sa_column=Column(String(32), nullable=False))
    token_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False, unique=True))
    hint: str = Field(sa_column=Column(String(16), nullable=False))
    created_at: datetime = timestamp_field()
    expires_at: datetime = timestamp_field(default_now=False)
    last_used_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    revoked_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    revoked_by: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True), nullable=True))


def new_secret() -> str:
    """A fresh token: the prefix and 256 random bits."""
    return PERSONAL_TOKEN_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def hint(token: str) -> str:
    """What lists show to tell tokens apart (the prefix and 4 characters; nothing guessable)."""
    return token[: len(PERSONAL_TOKEN_PREFIX) + 4]


def may_hold(holder: OrgRole, role: OrgRole) -> bool:
    """May a member with role ``holder`` use a token of ``role``? Their own role, or one strictly below
    it on the owner > admin > manager > member line; the auditor (read-only, apart from that line) only
    as itself, and only owners and admins may issue auditor tokens."""
    if role == holder:
        return True
    if holder is OrgRole.AUDITOR:
        return False
    if role is OrgRole.AUDITOR:
        return holder.rank >= OrgRole.AUDITOR.rank
    return role.rank < holder.rank


def effective_role(membership_role: OrgRole, token_role: OrgRole) -> OrgRole:
    """The lower of the membership's current role and the token's role; 401 if they no longer compare
    (e.g. a manager token for someone now an auditor)."""
    if may_hold(membership_role, token_role):
        return token_role
    if may_hold(token_role, membership_role):
        return membership_role
    raise NotAuthenticated("This personal token's role no longer fits your role in its organization.")


_RESOLVE = text("SELECT * FROM app_personal_token(:digest)").bindparams(bindparam("digest", type_=LargeBinary))


async def resolve(db: Database, token: str) -> Principal:
    """The caller a personal token stands for, or 401."""
    async with db.transaction() as session:
        row = (await session.execute(_RESOLVE, {"digest": digest(token)})).first()
    if row is None:
        raise NotAuthenticated("The personal token is not valid, expired or revoked.")
    return Principal(
        subject=row.user_id,
        client_id=CLIENT_ID,
        username=row.username,
        email=row.email,
        name=row.display_name,
        realm_roles=frozenset(),
        scopes=frozenset(),
        token_id=row.token_id,
        token_org_id=row.org_id,
        token_role=row.role,
    )
