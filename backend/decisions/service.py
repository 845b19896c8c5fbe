"""Decisions (a lightweight decision record), per project or organization-wide.

proposed -> accepted | rejected (decide: org admins, and project leads for their project);
accepted -> superseded, pointing at the later accepted decision that replaces it. Only proposals
change or are deleted: an accepted (or rejected, or superseded) decision is immutable.
Project decisions are read by whoever may read the project.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import exists, or_, select
from sqlmodel import col

from backend.core import audit
from backend.core.errors import Conflict, NotFound, UnprocessableContent
from backend.core.models import utcnow
from backend.core.pagination import Page, PageParams, paginate
from backend.decisions import schemas
from backend.decisions.models import Decision, DecisionStatus
from backend.tenancy import guard
from backend.tenancy.context import OrgContext, enter_project
from backend.tenancy.models import ProjectMembership

_FIELDS = ("title", "context", "decision", "status", "decided_at", "decided_by", "superseded_by_id")


def _state(decision: Decision) -> dict[str, Any]:
    return {f: getattr(decision, f) for f in _FIELDS}


def _read(decision: Decision) -> schemas.DecisionRead:
    return schemas.DecisionRead.model_validate(decision, from_attributes=True)


async def _scope(ctx: OrgContext, project_id: uuid.UUID | None, permission: str) -> OrgContext:
    """The context a decision's permission is decided in: its project's (which the caller must be able
    to read; an archived project is read-only) or the organization's."""
    if project_id is None:
        guard.require(ctx, permission)
        return ctx
    project_ctx = await enter_project(ctx, project_id)
    guard.require(project_ctx, "project:read")
    guard.require(project_ctx, permission)
    return project_ctx


async def _load(ctx: OrgContext, decision_id: uuid.UUID, permission: str, *, lock: bool = False) -> Decision:
    decision = await ctx.session.get(Decision, decision_id, with_for_update=lock)
    if decision is None or decision.org_id != ctx.org_id:
        raise NotFound("No such decision.")
    await _scope(ctx, decision.project_id, permission)
    return decision


async def create(ctx: OrgContext, data: schemas.DecisionCreate) -> schemas.DecisionRead:
    guard.require(ctx, "decision:create")
    if data.project_id is not None:
        try:
            await _scope(ctx, data.project_id, "decision:create")
        except NotFound:
            raise UnprocessableContent("No such project in this organization.", extra={"field": "project_id"}) from None
    decision = Decision(org_id=ctx.org_id, created_by=ctx.user_id, **data.model_dump())
    ctx.session.add(decision)
    await ctx.session.flush()
    await audit.record_in(
        ctx, action="decision.proposed", resource_type="decision", resource_id=decision.id, after=_state(decision)
    )
    return _read(decision)


async def list_decisions(
    ctx: OrgContext,
    page: PageParams,
    *,
    project_id: uuid.UUID | None = None,
    org_wide: bool | None = None,
    status: DecisionStatus | None = None,
    q: str | None = None,
) -> Page[schemas.DecisionRead]:
    """Newest first; project decisions only of projects the caller may read."""
    guard.require(ctx, "decision:list")
    query = select(Decision).where(col(Decision.org_id) == ctx.org_id)
    if not guard.allowed(ctx, "project:read"):  # org admins and auditors read every project
        mine = exists().where(
            col(ProjectMembership.project_id) == col(Decision.project_id),
            col(ProjectMembership.user_id) == ctx.user_id,
        )
        query = query.where(or_(col(Decision.project_id).is_(None), mine))
    if project_id is not None:
        query = query.where(col(Decision.project_id) == project_id)
    if org_wide is not None:
        query = query.where(col(Decision.project_id).is_(None) if org_wide else col(Decision.project_id).is_not(None))
    if status is not None:
        query = query.where(col(Decision.status) == status.value)
    if q:
        query = query.where(col(Decision.title).ilike(f"%{q}%"))
    order = [col(Decision.created_at).desc(), col(Decision.id)]
    return await paginate(ctx.session, query, page, _read, order_by=order, scalars=True)


async def get(ctx: OrgContext, decision_id: uuid.UUID) -> schemas.DecisionRead:
    guard.require(ctx, "decision:read")
    return _read(await _load(ctx, decision_id, "decision:read"))


def _require_proposed(decision: Decision) -> None:
    if decision.status != DecisionStatus.PROPOSED:
        raise Conflict(
            f"This decision is {decision.status}: decided records are immutable (supersede it with a new one).",
            extra={"field": "status"},
        )


async def update(ctx: OrgContext, decision_id: uuid.UUID, data: schemas.DecisionUpdate) -> schemas.DecisionRead:
    guard.require(ctx, "decision:update")
    decision = await _load(ctx, decision_id, "decision:update", lock=True)
    _require_proposed(decision)
    before = _state(decision)
    for field, value in data.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(decision, field, value)
    if _state(decision) != before:
        decision.updated_at = utcnow()
        await ctx.session.flush()
        await audit.record_in(
            ctx,
            action="decision.updated",
            resource_type="decision",
            resource_id=decision.id,
            before=before,
            after=_state(decision),
        )
    return _read(decision)


async def _decide(ctx: OrgContext, decision_id: uuid.UUID, outcome: DecisionStatus) -> schemas.DecisionRead:
    # Leads decide for their project only: the decision itself is authorised in the decision's scope.
    guard.require(ctx, "decision:read")
    decision = await _load(ctx, decision_id, "decision:decide", lock=True)
    _require_proposed(decision)
    before = _state(decision)
    decision.status = outcome.value
    decision.decided_at = decision.updated_at = utcnow()
    decision.decided_by = ctx.user_id
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action=f"decision.{outcome.value}",
        resource_type="decision",
        resource_id=decision.id,
        before=before,
        after=_state(decision),
    )
    return _read(decision)


async def accept(ctx: OrgContext, decision_id: uuid.UUID) -> schemas.DecisionRead:
    return await _decide(ctx, decision_id, DecisionStatus.ACCEPTED)


async def reject(ctx: OrgContext, decision_id: uuid.UUID) -> schemas.DecisionRead:
    return await _decide(ctx, decision_id, DecisionStatus.REJECTED)


async def supersede(ctx: OrgContext, decision_id: uuid.UUID, data: schemas.Supersede) -> schemas.DecisionRead:
    """Mark an accepted decision as replaced by a later accepted one of the same scope."""
    guard.require(ctx, "decision:read")
    decision = await _load(ctx, decision_id, "decision:decide", lock=True)
    if decision.status != DecisionStatus.ACCEPTED:
        raise Conflict(f"Only an accepted decision can be superseded; this one is {decision.status}.")
    successor = await ctx.session.get(Decision, data.superseded_by)
    if (
        successor is None
        or successor.org_id != ctx.org_id
        or successor.id == decision.id
        or successor.project_id != decision.project_id
    ):
        raise UnprocessableContent(
            "The successor must be another decision of the same project (or organization).",
            extra={"field": "superseded_by"},
        )
    if successor.status != DecisionStatus.ACCEPTED:
        raise UnprocessableContent("Accept the successor first.", extra={"field": "superseded_by"})
    before = _state(decision)
    decision.status, decision.superseded_by_id = DecisionStatus.SUPERSEDED.value, successor.id
    decision.updated_at = utcnow()
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="decision.superseded",
        resource_type="decision",
        resource_id=decision.id,
        before=before,
        after=_state(decision),
    )
    return _read(decision)


async def delete(ctx: OrgContext, decision_id: uuid.UUID) -> None:
    guard.require(ctx, "decision:update")
    decision = await _load(ctx, decision_id, "decision:update", lock=True)
    _require_proposed(decision)
    before = _state(decision)
    await ctx.session.delete(decision)
    await ctx.session.flush()
    await audit.record_in(
        ctx, action="decision.withdrawn", resource_type="decision", resource_id=decision.id, before=before
    )
