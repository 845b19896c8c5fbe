"""Organizations: found, list mine, read, rename, archive; and an organization's audit trail.

Every function takes the acting context, passes the guard, does the work and writes the audit event in
the request's one transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.core import audit
from backend.core.audit import AuditEvent
from backend.core.conditional import entity_tag, require_match
from backend.core.db import Database
from backend.core.errors import Conflict, Forbidden, UnprocessableContent
from backend.core.models import utcnow
from backend.core.pagination import Page, PageParams, paginate
from backend.orgs import schemas
from backend.settings import get_settings
from backend.tenancy import guard, mirror
from backend.tenancy.context import OrgContext, OrgInfo, UserContext, UserTransactions, enter_new_org
from backend.tenancy.directory import Directory, NameTaken, OrgMirror
from backend.tenancy.models import Membership, Organization
from backend.tenancy.roles import MembershipStatus, OrgRole

log = structlog.get_logger(__name__)


def _state(org: Organization | OrgInfo) -> dict[str, Any]:
    return {"slug": org.slug, "name": org.name, "archived_at": org.archived_at}


def _read(org: Organization | OrgInfo, role: str, status: str = MembershipStatus.ACTIVE) -> schemas.OrganizationRead:
    return schemas.OrganizationRead(
        id=org.id,
        slug=org.slug,
        name=org.name,
        archived_at=org.archived_at,
        created_at=org.created_at,
        require_mfa_for_admins=org.require_mfa_for_admins,
        my_role=OrgRole(role),
        membership_status=MembershipStatus(status),
    )


def _info(org: Organization) -> OrgInfo:
    return OrgInfo(
        id=org.id,
        slug=org.slug,
        name=org.name,
        archived_at=org.archived_at,
        created_at=org.created_at,
        require_mfa_for_admins=org.require_mfa_for_admins,
    )


async def create(
    users: UserTransactions, directory: Directory, data: schemas.OrganizationCreate
) -> schemas.OrganizationRead:
    """Anyone signed in may found an organization; they become its owner.

    Keycloak's copy comes first, with no transaction open while Keycloak answers: (1) the Keycloak
    organization is created (its alias is the new id) with the founder as its member; (2) one short
    transaction stores the organization, the owner's membership and their audit events. If (2) fails,
    the Keycloak organization is deleted again, so nothing is half-written on either side."""
    if users.principal.is_service_account:
        raise Forbidden("Service accounts cannot found organizations.")
    org_id = uuid.uuid4()

    async def is_stale(holder: uuid.UUID | None) -> bool:
        if holder is None:
            return True
        async with users.transaction() as ctx:
            return not await ctx.session.scalar(text("SELECT app_org_exists(:id)"), {"id": holder})

    wanted = OrgMirror(org_id=org_id, slug=data.slug, name=data.name, archived=False)
    try:
        kc_id = await directory.create(wanted, is_stale=is_stale)
    except NameTaken:
        raise _slug_taken(data.slug) from None
    try:
        await directory.add_member(kc_id, users.principal.subject)
        async with users.transaction() as ctx:
            return await _store(ctx, org_id, data)
    except BaseException:
        await directory.delete(kc_id)
        raise


def _slug_taken(slug: str) -> Conflict:
    return Conflict(f"The slug '{slug}' is already taken.", extra={"field": "slug"})


async def _store(ctx: UserContext, org_id: uuid.UUID, data: schemas.OrganizationCreate) -> schemas.OrganizationRead:
    org = Organization(id=org_id, slug=data.slug, name=data.name)
    # The new tenant's rows must pass its RLS checks: the transaction now acts inside it.
    owner = await enter_new_org(ctx, _info(org), OrgRole.OWNER)
    ctx.session.add(org)
    try:
        await ctx.session.flush()
    except IntegrityError:
        raise _slug_taken(data.slug) from None
    ctx.session.add(Membership(org_id=org.id, user_id=ctx.user_id, role=OrgRole.OWNER.value))
    await ctx.session.flush()
    await audit.record_in(
        owner, action="organization.created", resource_type="organization", resource_id=org.id, after=_state(org)
    )
    await audit.record_in(
        owner,
        action="membership.created",
        resource_type="membership",
        resource_id=ctx.user_id,
        after={"role": OrgRole.OWNER.value},
    )
    return _read(org, OrgRole.OWNER)


async def list_mine(
    ctx: UserContext, page: PageParams, *, include_archived: bool = False
) -> Page[schemas.OrganizationRead]:
    """The caller's organizations, pending invitations included (their ``membership_status`` says
    so). Scoped by the membership filter here and by RLS underneath."""
    query = (
        select(Organization, col(Membership.role), col(Membership.status))
        .join(Membership, col(Membership.org_id) == col(Organization.id))
        .where(col(Membership.user_id) == ctx.user_id)
    )
    if not include_archived:
        query = query.where(col(Organization.archived_at).is_(None))

    def item(row: Any) -> schemas.OrganizationRead:
        return _read(row[0], row[1], row[2])

    return await paginate(ctx.session, query, page, item, order_by=[col(Organization.name), col(Organization.id)])


async def get(ctx: OrgContext) -> schemas.OrganizationRead:
    guard.require(ctx, "organization:read")
    return _read(ctx.org, ctx.role)


async def _load(ctx: OrgContext) -> Organization:
    org = await ctx.session.get(Organization, ctx.org_id, with_for_update=True)
    assert org is not None  # the context just found it in this transaction
    return org


async def update(
    ctx: OrgContext, data: schemas.OrganizationUpdate, *, if_match: str | None = None
) -> schemas.OrganizationRead:
    guard.require(ctx, "organization:update")
    org = await _load(ctx)
    require_match(if_match, entity_tag(_read(org, ctx.role)))  # under the row lock: no lost update
    before = _state(org)
    for field, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(org, field, value)
    if _state(org) != before:
        org.updated_at = utcnow()
        try:
            await ctx.session.flush()
        except IntegrityError:
            raise Conflict(f"The slug '{data.slug}' is already taken.", extra={"field": "slug"}) from None
        await audit.record_in(
            ctx,
            action="organization.updated",
            resource_type="organization",
            resource_id=ctx.org_id,
            before=before,
            after=_state(org),
        )
        mirror.request(ctx.org_id)  # Keycloak's copy follows the new slug and name after commit
    return _read(org, ctx.role)


async def set_security(ctx: OrgContext, data: schemas.OrganizationSecurity) -> schemas.OrganizationRead:
    """The owner turns the second-factor rule for owners and admins on or off. Turning it on needs a
    sign-in that used a second factor: an owner cannot lock themself out of a rule they never met (and
    once it is on, changing it needs one anyway: the guard asks for it above a member's rights)."""
    guard.require(ctx, "organization:configure_mfa")
    if data.require_mfa_for_admins and not ctx.principal.has_second_factor:
        raise Conflict(
            "Sign in with a second factor (one-time code) before requiring one of owners and admins.",
            extra={"enroll": guard.enrollment()},
        )
    org = await _load(ctx)
    before = {"require_mfa_for_admins": org.require_mfa_for_admins}
    if org.require_mfa_for_admins != data.require_mfa_for_admins:
        org.require_mfa_for_admins = data.require_mfa_for_admins
        org.updated_at = utcnow()
        await ctx.session.flush()
        await audit.record_in(
            ctx,
            action="organization.security_updated",
            resource_type="organization",
            resource_id=ctx.org_id,
            before=before,
            after={"require_mfa_for_admins": org.require_mfa_for_admins},
        )
    return _read(org, ctx.role)


async def archive(ctx: OrgContext) -> schemas.OrganizationRead:
    guard.require(ctx, "organization:archive")
    org = await _load(ctx)
    before = _state(org)
    org.archived_at = org.updated_at = utcnow()
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="organization.archived",
        resource_type="organization",
        resource_id=ctx.org_id,
        before=before,
        after=_state(org),
    )
    mirror.request(ctx.org_id)  # disabled in Keycloak after commit: its provider stops signing people in
    return _read(org, ctx.role)


@dataclass(frozen=True, slots=True)
class AuditFilters:
    """What an auditor narrows the trail to; ``action`` ending in ``.`` is a prefix (``time_entry.``)."""

    actor_user_id: uuid.UUID | None = None
    action: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    from_: datetime | None = None
    to: datetime | None = None

    def validated(self) -> AuditFilters:
        if self.from_ is not None and self.to is not None and self.to <= self.from_:
            raise UnprocessableContent("'to' must be after 'from'.", extra={"field": "to"})
        return self

    def describe(self) -> dict[str, str]:
        """The filters in force, as the export's manifest records them."""
        named = {
            "actor_user_id": self.actor_user_id, "action": self.action, "resource_type": self.resource_type,
            "resource_id": self.resource_id, "from": self.from_, "to": self.to,
        }  # fmt: skip
        return {key: value.isoformat() if isinstance(value, datetime) else str(value)
                for key, value in named.items() if value is not None}  # fmt: skip

    def where(self) -> tuple[str, dict[str, Any]]:
        """The SQL conditions on ``audit_events e`` (beyond the organization) and their parameters."""
        conditions: list[str] = ["e.org_id = :org"]
        params: dict[str, Any] = {}
        if self.actor_user_id is not None:
            conditions.append("e.actor_user_id = :actor")
            params["actor"] = self.actor_user_id
        if self.action is not None:
            if self.action.endswith("."):
                conditions.append("starts_with(e.action, :action)")
            else:
                conditions.append("e.action = :action")
            params["action"] = self.action
        for column, value in (("resource_type", self.resource_type), ("resource_id", self.resource_id)):
            if value is not None:
                conditions.append(f"e.{column} = :{column}")
                params[column] = value
        if self.from_ is not None:
            conditions.append("e.occurred_at >= :from_")
            params["from_"] = self.from_
        if self.to is not None:
            conditions.append("e.occurred_at < :to")
            params["to"] = self.to
        return " AND ".join(conditions), params


#: The columns of an audit trail export, in order.
AUDIT_EXPORT_COLUMNS = [
    "seq", "occurred_at", "actor_user_id", "actor_email", "actor_client_id", "action", "resource_type",
    "resource_id", "request_id", "changes", "prev_hash", "hash",
]  # fmt: skip


def audit_export_query(filters: AuditFilters) -> tuple[str, dict[str, Any]]:
    """The rows of an audit trail export, oldest first (the chain's order), for the export job."""
    where, params = filters.validated().where()
    sql = (
        "SELECT e.seq, e.occurred_at, e.actor_user_id, u.email AS actor_email, e.actor_client_id, e.action,"
        " e.resource_type, e.resource_id, e.request_id, e.changes::text AS changes, e.prev_hash, e.hash"
        f" FROM audit_events e LEFT JOIN users u ON u.id = e.actor_user_id WHERE {where} ORDER BY e.seq"
    )
    return sql, params


def audit_export_count_query(filters: AuditFilters) -> tuple[str, dict[str, Any]]:
    where, params = filters.validated().where()
    return f"SELECT count(*) FROM audit_events e WHERE {where}", params


async def list_audit_events(
    ctx: OrgContext, page: PageParams, filters: AuditFilters | None = None
) -> Page[schemas.AuditEventRead]:
    guard.require(ctx, "audit:read")
    wanted = (filters or AuditFilters()).validated()
    query = select(AuditEvent).where(col(AuditEvent.org_id) == ctx.org_id)
    if wanted.actor_user_id is not None:
        query = query.where(col(AuditEvent.actor_user_id) == wanted.actor_user_id)
    if wanted.action is not None:
        action = col(AuditEvent.action)
        query = query.where(
            action.startswith(wanted.action) if wanted.action.endswith(".") else action == wanted.action
        )
    if wanted.resource_type is not None:
        query = query.where(col(AuditEvent.resource_type) == wanted.resource_type)
    if wanted.resource_id is not None:
        query = query.where(col(AuditEvent.resource_id) == wanted.resource_id)
    if wanted.from_ is not None:
        query = query.where(col(AuditEvent.occurred_at) >= wanted.from_)
    if wanted.to is not None:
        query = query.where(col(AuditEvent.occurred_at) < wanted.to)
    return await paginate(
        ctx.session,
        query,
        page,
        lambda event: schemas.AuditEventRead.model_validate(event, from_attributes=True),
        order_by=[col(AuditEvent.seq).desc()],
        scalars=True,
    )


async def audit_chain(ctx: OrgContext) -> schemas.AuditChainRead:
    """Recompute the organization's chain and check its anchors (what ``audit verify`` does), for the
    auditor's page."""
    guard.require(ctx, "audit:read")
    report = await audit.verify_chain(ctx.session, ctx.org_id)
    anchors = await check_audit_anchors(ctx.session, ctx.org_id)
    head = (
        await ctx.session.execute(
            select(col(AuditEvent.seq), col(AuditEvent.hash))
            .where(col(AuditEvent.org_id) == ctx.org_id)
            .order_by(col(AuditEvent.seq).desc())
            .limit(1)
        )
    ).first()
    return schemas.AuditChainRead(
        verified=report.ok and anchors.ok,
        events=report.events,
        head_seq=head[0] if head else None,
        head_hash=head[1] if head else None,
        broken_seq=report.broken_seq,
        reason=report.reason if not report.ok else anchors.reason,
        checked_at=utcnow(),
        anchors=anchors_state(anchors),
    )


def anchors_state(report: audit.AnchorReport) -> schemas.AuditAnchorsState:
    latest = report.latest
    return schemas.AuditAnchorsState(
        verified=report.ok,
        anchors=report.anchors,
        latest=None
        if latest is None or latest.id is None
        else schemas.AuditAnchorRead(
            id=latest.id,
            head_seq=latest.head_seq,
            head_event_id=latest.head_event_id,
            head_hash=latest.head_hash,
            events=latest.events,
            reason=latest.reason,
            anchored_at=latest.anchored_at,
            key_id=latest.key_id,
            statement=latest.statement,
        ),
        broken_anchor_id=report.broken_anchor_id,
        problem=report.kind,
        reason=report.reason,
    )


# --- anchors: the chain's head signed with the organization's export key (backend/core/audit.py) -----


async def anchor_audit_head(
    session: AsyncSession, org_id: uuid.UUID, *, reason: str, only_if_moved: bool = False
) -> audit.AuditAnchor | None:
    """Sign and store the organization's current audit head, inside the caller's unit of work (the period
    lock's, the scheduled job's). Not a request's action of its own: callers have passed their guard."""
    from backend.exports import service as exports  # exports reads the audit trail through this module

    async def sign(statement: dict[str, Any]) -> dict[str, Any]:
        return await exports.sign_statement(session, org_id, statement)

    return await audit.write_anchor(session, org_id, reason=reason, sign=sign, only_if_moved=only_if_moved)


async def check_audit_anchors(session: AsyncSession, org_id: uuid.UUID) -> audit.AnchorReport:
    """Every anchor of the organization verifies and its head is still in the chain (``audit verify``)."""
    from backend.exports import service as exports

    async def problem(statement: dict[str, Any]) -> str | None:
        return await exports.statement_signature_problem(session, org_id, statement)

    return await audit.verify_anchors(session, org_id, signature_problem=problem)


_MOVED_HEADS = """
    SELECT o.id FROM organizations o
    JOIN LATERAL (SELECT seq, hash FROM audit_events e WHERE e.org_id = o.id ORDER BY seq DESC LIMIT 1) h ON true
    LEFT JOIN LATERAL (
        SELECT head_seq, head_hash FROM audit_anchors a WHERE a.org_id = o.id ORDER BY id DESC LIMIT 1
    ) a ON true
    WHERE a.head_seq IS DISTINCT FROM h.seq OR a.head_hash IS DISTINCT FROM h.hash
    ORDER BY o.id
"""


async def anchor_all(db: Database, *, reason: str = "schedule") -> dict[str, int]:
    """Anchor every organization whose head moved since its last anchor (the scheduled job, and
    ``python -m backend audit anchor``); idempotent: an unchanged head writes nothing."""
    import asyncpg

    settings = get_settings()
    owner = await asyncpg.connect(settings.database_owner_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        # Only organizations whose newest event is not their newest anchor's head (the owner's read policy).
        org_ids = [row["id"] for row in await owner.fetch(_MOVED_HEADS)]
    finally:
        await owner.close()
    counts = {"moved": len(org_ids), "anchored": 0, "failed": 0}
    for org_id in org_ids:
        try:
            async with db.unit_of_work(org_id=org_id) as session:
                if await anchor_audit_head(session, org_id, reason=reason, only_if_moved=True) is not None:
                    counts["anchored"] += 1
        except Exception as exc:  # one organization's failure must not hold back the others
            counts["failed"] += 1
            log.warning("audit_anchor_failed", org_id=str(org_id), error=f"{type(exc).__name__}: {exc}"[:300])
    log.info("audit_anchors", **counts)
    return counts
