from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from backend.core.pagination import Page, Paging
from backend.core.validation import CanonicalUUID
from backend.decisions import schemas, service
from backend.decisions.models import DecisionStatus
from backend.tenancy.context import CurrentOrg

router = APIRouter(prefix="/orgs/{org_id}/decisions", tags=["decisions"])


@router.post("", status_code=status.HTTP_201_CREATED, summary="Propose a decision (for a project or the organization)")
async def propose_decision(ctx: CurrentOrg, data: schemas.DecisionCreate) -> schemas.DecisionRead:
    return await service.create(ctx, data)


@router.get("", summary="Decisions you can read, newest first")
async def list_decisions(
    ctx: CurrentOrg,
    page: Paging,
    project_id: uuid.UUID | None = None,
    org_wide: bool | None = None,
    status: DecisionStatus | None = None,
    q: str | None = None,
) -> Page[schemas.DecisionRead]:
    return await service.list_decisions(ctx, page, project_id=project_id, org_wide=org_wide, status=status, q=q)


@router.get("/{decision_id}", summary="Read a decision")
async def read_decision(ctx: CurrentOrg, decision_id: CanonicalUUID) -> schemas.DecisionRead:
    return await service.get(ctx, decision_id)


@router.patch("/{decision_id}", summary="Change a proposal (decided records are immutable)")
async def update_decision(
    ctx: CurrentOrg, decision_id: CanonicalUUID, data: schemas.DecisionUpdate
) -> schemas.DecisionRead:
    return await service.update(ctx, decision_id, data)


@router.delete("/{decision_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Withdraw a proposal")
async def withdraw_decision(ctx: CurrentOrg, decision_id: CanonicalUUID) -> Response:
    await service.delete(ctx, decision_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{decision_id}/accept", summary="Accept a proposal (admins; leads for their project)")
async def accept_decision(ctx: CurrentOrg, decision_id: CanonicalUUID) -> schemas.DecisionRead:
    return await service.accept(ctx, decision_id)


@router.post("/{decision_id}/reject", summary="Reject a proposal (admins; leads for their project)")
async def reject_decision(ctx: CurrentOrg, decision_id: CanonicalUUID) -> schemas.DecisionRead:
    return await service.reject(ctx, decision_id)


@router.post("/{decision_id}/supersede", summary="Mark an accepted decision as replaced by a later accepted one")
async def supersede_decision(
    ctx: CurrentOrg, decision_id: CanonicalUUID, data: schemas.Supersede
) -> schemas.DecisionRead:
    return await service.supersede(ctx, decision_id, data)
