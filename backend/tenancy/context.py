"""Who is acting, in which organization and project: the contexts every service receives.

A request opens ONE transaction whose first statement is ``app_enter(user, org, project)``: a
database function that binds the tenant settings row-level security reads, then returns the caller's
user row, membership, organization, project and project role in the same round trip. The contexts
hold those rows as plain frozen values; services that change the organization or project load the
ORM object themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from sqlalchemy import Row, bindparam, select, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.core.auth import PERSONAL_TOKEN_PREFIX, Principal, TokenVerifier, bearer_token
from backend.core.db import SINGLE_STATEMENT, Database, NeedsTransaction, bind_tenant, execute_first
from backend.core.errors import Forbidden, NotFound
from backend.core.logging import bind_log_context
from backend.core.validation import CanonicalUUID
from backend.core.websession import COOKIE, CSRF_HEADER, SessionStore
from backend.tenancy import tokens
from backend.tenancy.models import Project, ProjectMembership
from backend.tenancy.roles import MembershipStatus, OrgRole, ProjectRole
from backend.tenancy.users import UserInfo, sync_user


@dataclass(frozen=True, slots=True)
class OrgInfo:
    id: uuid.UUID
    slug: str
    name: str
    archived_at: datetime | None
    created_at: datetime
    #: Owners and admins need a second factor in their token for anything above a member's rights.
    require_mfa_for_admins: bool = False


@dataclass(frozen=True, slots=True)
class ProjectInfo:
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    description: str | None
    archived_at: datetime | None
    created_at: datetime


@dataclass(slots=True)
class UserContext:
    """A signed-in caller and the request's transaction, before any organization is chosen."""

    principal: Principal
    user: UserInfo
    session: AsyncSession

    @property
    def user_id(self) -> uuid.UUID:
        return self.user.id


@dataclass(slots=True)
class OrgContext(UserContext):
    """A member acting inside one organization; the transaction is bound to it."""

    org: OrgInfo
    role: OrgRole

    @property
    def org_id(self) -> uuid.UUID:
        return self.org.id

    def role_subjects(self) -> tuple[str, ...]:
        """The Casbin subjects the caller holds here, read in this request's own transaction."""
        return (self.role.subject,)

    def read_only_reason(self) -> str | None:
        """Why nothing may be changed here, or None."""
        if self.org.archived_at is not None:
            return "This organization is archived; it can be read but not changed."
        return None


@dataclass(slots=True)
class ProjectContext(OrgContext):
    """A member acting on one project of the organization, with their project role (if any)."""

    project: ProjectInfo
    project_role: ProjectRole | None
    #: The whole project row as JSON with ``my_role`` (from ``app_enter``), when the context read it:
    #: a project read answers from it without a second query.
    project_row: str | None = None

    def role_subjects(self) -> tuple[str, ...]:
        if self.project_role is None:
            return (self.role.subject,)
        return (self.role.subject, self.project_role.subject)

    def read_only_reason(self) -> str | None:
        if self.org.archived_at is not None:
            return "This organization is archived; it can be read but not changed."
        if self.project.archived_at is not None:
            return "This project is archived; it can be read but not changed."
        return None


# Prebuilt once: building statements and their cache keys per request is measurable on the hot path.
_ENTER = text("SELECT * FROM app_enter(:user_id, :org_id, :project_id)").bindparams(
    bindparam("user_id", type_=UUID(as_uuid=True)),
    bindparam("org_id", type_=UUID(as_uuid=True)),
    bindparam("project_id", type_=UUID(as_uuid=True)),
)
# The project read's variant: the same round trip also computes the project's budget burn.
_ENTER_WITH_BURN = text("SELECT * FROM app_enter(:user_id, :org_id, :project_id, true)").bindparams(
    bindparam("user_id", type_=UUID(as_uuid=True)),
    bindparam("org_id", type_=UUID(as_uuid=True)),
    bindparam("project_id", type_=UUID(as_uuid=True)),
)


#: Applies a token's SSO claims (just-in-time membership, claim-to-role mappings) in the request's
#: transaction and records their digest on the user row. The SSO domain provides it
#: (backend/sso/login.py, installed by the app factory): this layer cannot import a domain.
SsoLogin = Callable[[AsyncSession, Principal], Awaitable[None]]
_sso_login: list[SsoLogin] = []


def install_sso_login(hook: SsoLogin) -> None:
    """Called once by the app factory; installing again replaces the hook."""
    _sso_login[:] = [hook]


async def _enter(
    session: AsyncSession,
    principal: Principal,
    org_id: uuid.UUID | None = None,
    project_id: uuid.UUID | None = None,
    *,
    with_burn: bool = False,
) -> tuple[UserInfo, Row[Any]]:
    statement = _ENTER_WITH_BURN if with_burn else _ENTER
    params = {"user_id": principal.subject, "org_id": org_id, "project_id": project_id}
    row = (await execute_first(session, statement, params)).one()
    user = await sync_user(session, principal, row)
    # An SSO token whose claims were applied already costs this one comparison; a first SSO sign-in,
    # changed groups or changed mappings (which forget the digest) apply them, then enter again: the
    # membership may be new, and applying bound another tenant meanwhile.
    if principal.sso_digest is not None and row.user_sso_digest != principal.sso_digest and _sso_login:
        if session.info.get(SINGLE_STATEMENT):
            raise NeedsTransaction
        await _sso_login[0](session, principal)
        row = (await execute_first(session, statement, params)).one()
    return user, row


async def open_user(session: AsyncSession, principal: Principal) -> UserContext:
    user, _ = await _enter(session, principal)
    return UserContext(principal=principal, user=user, session=session)


class SsoRequired(Forbidden):
    """A person of the organization's verified domains came in without its identity provider."""

    type_slug = "sso-required"
    title = "Single sign-on required"

    def __init__(self, org_id: uuid.UUID, aliases: list[str]) -> None:
        hint = f"kc_idp_hint={aliases[0]}&" if aliases else ""
        super().__init__(
            "This organization requires single sign-on: sign in through its identity provider.",
            permission="sso_required",
        )
        self.extra = {"sign_in_url": f"/auth/login?{hint}next=/orgs/{org_id}", "org_id": str(org_id)}


def _require_sso(org_id: uuid.UUID, row: Row[Any], principal: Principal) -> None:
    """Enforced SSO (only read when the organization enforces it): a person whose email is in one of
    its verified domains acts here only with a token from one of its providers. Personal API tokens are
    judged by their membership alone (they stop with it)."""
    aliases: list[str] = row.sso_idps or []
    if principal.is_personal_token or principal.identity_provider in aliases or not principal.email:
        return
    if principal.email.rpartition("@")[2].lower() in (row.sso_domains or []):
        raise SsoRequired(org_id, aliases)


def _org(org_id: uuid.UUID, row: Row[Any], *, status: MembershipStatus, principal: Principal) -> OrgInfo:
    # Non-members get 404: we never confirm that another tenant's organization exists. A personal token
    # acts in its own organization only.
    if row.org_slug is None or row.member_status != status:
        raise NotFound("No such organization.")
    if principal.is_personal_token and principal.token_org_id != org_id:
        raise NotFound("No such organization.")
    if row.sso_enforced:
        _require_sso(org_id, row, principal)
    return OrgInfo(
        id=org_id,
        slug=row.org_slug,
        name=row.org_name,
        archived_at=row.org_archived_at,
        created_at=row.org_created_at,
        require_mfa_for_admins=bool(row.org_require_mfa),
    )


def _role(principal: Principal, row: Row[Any]) -> OrgRole:
    """The membership's role, capped by a personal token's role (the lower of the two)."""
    role = OrgRole(row.member_role)
    if principal.token_role is None:
        return role
    return tokens.effective_role(role, OrgRole(principal.token_role))


async def open_org(
    session: AsyncSession,
    principal: Principal,
    org_id: uuid.UUID,
    *,
    status: MembershipStatus = MembershipStatus.ACTIVE,
) -> OrgContext:
    """The caller inside ``org_id``; ``status=INVITED`` opens it for an invitee deciding on their
    invitation (and for nothing else: every other route needs an active membership)."""
    user, row = await _enter(session, principal, org_id)
    org = _org(org_id, row, status=status, principal=principal)
    bind_log_context(org_id=str(org_id))
    return OrgContext(principal=principal, user=user, session=session, org=org, role=_role(principal, row))


async def open_project(
    session: AsyncSession, principal: Principal, org_id: uuid.UUID, project_id: uuid.UUID, *, with_burn: bool = False
) -> ProjectContext:
    """``with_burn``: ``project_row`` also carries the project's budget burn (for the project read)."""
    user, row = await _enter(session, principal, org_id, project_id, with_burn=with_burn)
    org = _org(org_id, row, status=MembershipStatus.ACTIVE, principal=principal)
    bind_log_context(org_id=str(org_id))
    if row.project_name is None:
        raise NotFound("No such project.")
    project = ProjectInfo(
        id=project_id,
        org_id=org_id,
        name=row.project_name,
        description=row.project_description,
        archived_at=row.project_archived_at,
        created_at=row.project_created_at,
    )
    return ProjectContext(
        principal=principal,
        user=user,
        session=session,
        org=org,
        role=_role(principal, row),
        project=project,
        project_role=ProjectRole(row.project_role) if row.project_role else None,
        project_row=row.project_row,
    )


_PROJECT_AND_ROLE = (
    select(Project, col(ProjectMembership.role))
    .outerjoin(
        ProjectMembership,
        (col(ProjectMembership.project_id) == col(Project.id))
        & (col(ProjectMembership.user_id) == bindparam("user_id")),
    )
    .where(col(Project.id) == bindparam("project_id"), col(Project.org_id) == bindparam("org_id"))
)


async def enter_project(ctx: OrgContext, project_id: uuid.UUID) -> ProjectContext:
    """Narrow an organization context to one of its projects (for services whose project comes from
    the request body or a row, not the path). 404 when the project is not in this organization."""
    found = (
        await ctx.session.execute(
            _PROJECT_AND_ROLE, {"user_id": ctx.user_id, "project_id": project_id, "org_id": ctx.org_id}
        )
    ).first()
    if found is None:
        raise NotFound("No such project.")
    project, role = found
    return within_project(ctx, project_info(project), ProjectRole(role) if role else None)


def within_project(ctx: OrgContext, project: ProjectInfo, role: ProjectRole | None) -> ProjectContext:
    """The same caller and transaction, acting on ``project`` with the project role ``role``."""
    return ProjectContext(
        principal=ctx.principal,
        user=ctx.user,
        session=ctx.session,
        org=ctx.org,
        role=ctx.role,
        project=project,
        project_role=role,
    )


def project_info(project: Project) -> ProjectInfo:
    return ProjectInfo(
        id=project.id,
        org_id=project.org_id,
        name=project.name,
        description=project.description,
        archived_at=project.archived_at,
        created_at=project.created_at,
    )


async def enter_new_org(ctx: UserContext, org: OrgInfo, role: OrgRole) -> OrgContext:
    """Point the request's transaction at an organization created in it (its rows must pass RLS)."""
    await bind_tenant(ctx.session, org_id=org.id, user_id=ctx.user_id)
    return OrgContext(principal=ctx.principal, user=ctx.user, session=ctx.session, org=org, role=role)


# --- request dependencies -------------------------------------------------------------------------
# One flat dependency per scope: each verifies the token, opens the transaction and resolves the
# context itself, so FastAPI resolves a single function per route.


async def authenticate(request: Request) -> Principal:
    """A bearer token (Keycloak's access token, or a personal API token ``wt_pat_…``), or the web app's
    session cookie (its stored access token, verified the same way; state-changing requests also need
    the session's CSRF header). A request with an ``Authorization`` header is judged by it alone."""
    authorization = request.headers.get("authorization")
    session_id = request.cookies.get(COOKIE) if authorization is None else None
    if session_id:
        sessions: SessionStore = request.app.state.web_sessions
        principal = await sessions.principal(session_id, request.method, request.headers.get(CSRF_HEADER))
    else:
        token = bearer_token(authorization)
        if token.startswith(PERSONAL_TOKEN_PREFIX):
            principal = await tokens.resolve(_database(request), token)
            bind_log_context(
                user_id=str(principal.subject), client_id=principal.client_id, token_id=str(principal.token_id)
            )
            return principal
        verifier: TokenVerifier = request.app.state.verifier
        principal = await verifier.verify(token)
    bind_log_context(user_id=str(principal.subject), client_id=principal.client_id)
    return principal


def _database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


OrgId = Annotated[CanonicalUUID, Path(description="Organization id")]
ProjectId = Annotated[CanonicalUUID, Path(description="Project id")]


async def user_scope(request: Request) -> AsyncIterator[UserContext]:
    principal = await authenticate(request)
    if principal.is_personal_token:
        raise Forbidden("A personal API token acts only inside its organization (/api/v1/orgs/{org_id}/...).")
    async with _database(request).transaction() as session:
        yield await open_user(session, principal)


async def org_scope(request: Request, org_id: OrgId) -> AsyncIterator[OrgContext]:
    principal = await authenticate(request)
    async with _database(request).transaction() as session:
        yield await open_org(session, principal, org_id)


async def invitee_scope(request: Request, org_id: OrgId) -> AsyncIterator[OrgContext]:
    principal = await authenticate(request)
    async with _database(request).transaction() as session:
        yield await open_org(session, principal, org_id, status=MembershipStatus.INVITED)


async def project_scope(request: Request, org_id: OrgId, project_id: ProjectId) -> AsyncIterator[ProjectContext]:
    principal = await authenticate(request)
    async with _database(request).transaction() as session:
        yield await open_project(session, principal, org_id, project_id)


async def project_read_scope(request: Request, org_id: OrgId, project_id: ProjectId) -> AsyncIterator[ProjectContext]:
    """:func:`project_scope` for the project read: the context's row carries the budget burn too, and the
    read is one round trip (``app_enter`` alone, no ``BEGIN``/``COMMIT``: see
    :meth:`Database.single_statement`). The read touches the database no further: the guard decides in
    memory and the project is the row ``app_enter`` returned. The first sight of a person (or a changed
    profile) writes their user row, so that request runs in a transaction instead."""
    principal = await authenticate(request)
    db = _database(request)
    async with db.single_statement() as session:
        try:
            context: ProjectContext | None = await open_project(session, principal, org_id, project_id, with_burn=True)
        except NeedsTransaction:
            context = None
        if context is not None:
            yield context
            return
    async with db.transaction() as session:
        yield await open_project(session, principal, org_id, project_id, with_burn=True)


@dataclass(frozen=True, slots=True)
class OrgTransactions:
    """For routes that call a slow outside service (Keycloak's admin API): the token is verified up
    front, but no transaction is open between the service's steps. Each :meth:`transaction` is a short
    unit of work that enters the organization again (membership and role read afresh), so the guard
    decides in every step and no pooled connection is held while the outside call runs."""

    principal: Principal
    org_id: uuid.UUID
    db: Database

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[OrgContext]:
        async with self.db.transaction() as session:
            yield await open_org(session, self.principal, self.org_id)


@dataclass(frozen=True, slots=True)
class UserTransactions:
    """:class:`OrgTransactions` before any organization is chosen (founding one calls Keycloak)."""

    principal: Principal
    db: Database

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UserContext]:
        async with self.db.transaction() as session:
            yield await open_user(session, self.principal)


async def user_transactions_scope(request: Request) -> UserTransactions:
    principal = await authenticate(request)
    if principal.is_personal_token:
        raise Forbidden("A personal API token acts only inside its organization (/api/v1/orgs/{org_id}/...).")
    return UserTransactions(principal=principal, db=_database(request))


async def org_transactions_scope(request: Request, org_id: OrgId) -> OrgTransactions:
    return OrgTransactions(principal=await authenticate(request), org_id=org_id, db=_database(request))


# scope="function": the transaction commits when the endpoint returns, before the response is sent,
# so a failed commit becomes the client's error instead of a 200 for data that was never stored.
CurrentUser = Annotated[UserContext, Depends(user_scope, scope="function")]
CurrentOrg = Annotated[OrgContext, Depends(org_scope, scope="function")]
CurrentInvitee = Annotated[OrgContext, Depends(invitee_scope, scope="function")]
CurrentProject = Annotated[ProjectContext, Depends(project_scope, scope="function")]
CurrentProjectRead = Annotated[ProjectContext, Depends(project_read_scope, scope="function")]
CurrentOrgTransactions = Annotated[OrgTransactions, Depends(org_transactions_scope)]
CurrentUserTransactions = Annotated[UserTransactions, Depends(user_transactions_scope)]
