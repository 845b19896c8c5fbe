"""Request dependencies: who is calling, and in which organization.

Routes declare what they need with the ``Annotated`` aliases at the bottom; the context objects hand
services the principal, the user, the organization, the membership and the one session of the
request, whose transaction the dependency commits or rolls back.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated

import structlog
from fastapi import Depends, Header, Path, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.core import audit
from backend.core.auth import Principal, TokenVerifier, bearer_token
from backend.core.db import Database, bind_tenant
from backend.core.errors import NotFound
from backend.identity.models import User
from backend.identity.service import ensure_user, sync_user
from backend.orgs.models import Membership, MembershipStatus, Organization


@dataclass
class UserContext:
    principal: Principal
    user: User
    session: AsyncSession
    #: authorization decisions taken for this request, as (permission, allowed)
    decisions: list[tuple[str, bool]] = field(default_factory=list)


@dataclass
class OrgContext(UserContext):
    org: Organization = field(kw_only=True)
    membership: Membership = field(kw_only=True)

    @property
    def org_id(self) -> uuid.UUID:
        return self.org.id

    def role_subjects(self) -> list[str]:
        """The Casbin subjects the caller holds here: their organization role (and, in a project, theirs
        there). Read from the membership rows of this request's own transaction."""
        return [f"org:{self.membership.role}"]


async def database(request: Request) -> Database:  # async: sync dependencies cost a thread hop
    db: Database = request.app.state.db
    return db


async def authenticate(
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    verifier: TokenVerifier = request.app.state.verifier
    principal = await verifier.verify(bearer_token(authorization))
    structlog.contextvars.bind_contextvars(user_id=str(principal.subject), client_id=principal.client_id)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


async def user_context(
    principal: CurrentPrincipal, db: Annotated[Database, Depends(database)]
) -> AsyncIterator[UserContext]:
    async with db.unit_of_work(user_id=principal.subject) as session:
        user = await ensure_user(session, principal)
        yield UserContext(principal=principal, user=user, session=session)


async def org_context(
    principal: CurrentPrincipal,
    db: Annotated[Database, Depends(database)],
    org_id: Annotated[uuid.UUID, Path(description="Organization id")],
) -> AsyncIterator[OrgContext]:
    """Open the tenant-bound unit of work for ``org_id``. Non-members get 404: we never confirm that
    another tenant's organization exists."""
    async with db.unit_of_work(org_id=org_id, user_id=principal.subject) as session:
        # One round trip for the caller, their membership and the organization.
        found = (
            await session.execute(
                select(User, Membership, Organization)
                .select_from(User)
                .outerjoin(Membership, (col(Membership.user_id) == col(User.id)) & (col(Membership.org_id) == org_id))
                .outerjoin(Organization, col(Organization.id) == col(Membership.org_id))
                .where(col(User.id) == principal.subject)
            )
        ).first()
        user = await sync_user(session, principal, found[0] if found else None)
        membership, org = (found[1], found[2]) if found else (None, None)
        if membership is None or org is None:
            raise NotFound("No such organization.")
        if membership.status == MembershipStatus.INVITED:
            # An invitation is accepted by using it: the invitee signed in and came to this organization.
            membership.status = MembershipStatus.ACTIVE.value
            await session.flush()
            await audit.record(
                session,
                org_id=org_id,
                actor=principal,
                action="membership.accepted",
                resource_type="membership",
                resource_id=user.id,
                before={"status": MembershipStatus.INVITED.value},
                after={"status": membership.status},
            )
        structlog.contextvars.bind_contextvars(org_id=str(org_id))
        yield OrgContext(principal=principal, user=user, session=session, org=org, membership=membership)


async def rebind(ctx: UserContext, org_id: uuid.UUID) -> None:
    """Point the request's transaction at a newly created organization (see orgs.service.create)."""
    await bind_tenant(ctx.session, org_id=org_id, user_id=ctx.user.id)


# scope="function": the unit of work commits when the endpoint returns, before the response is sent,
# so a failed commit becomes the client's error instead of a 200 for data that was never stored.
CurrentUser = Annotated[UserContext, Depends(user_context, scope="function")]
CurrentOrg = Annotated[OrgContext, Depends(org_context, scope="function")]
