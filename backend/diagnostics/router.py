from __future__ import annotations

from fastapi import APIRouter, status

from backend.core.validation import CanonicalUUID
from backend.diagnostics import service
from backend.diagnostics.schemas import PingRead
from backend.tenancy.context import CurrentOrg

router = APIRouter(prefix="/orgs/{org_id}/diagnostics", tags=["diagnostics"])


@router.post("/pings", status_code=status.HTTP_202_ACCEPTED, summary="Send a ping through the job queue")
async def request_ping(ctx: CurrentOrg) -> PingRead:
    return await service.request_ping(ctx)


@router.get("/pings/{ping_id}", summary="See whether a worker has processed a ping")
async def read_ping(ctx: CurrentOrg, ping_id: CanonicalUUID) -> PingRead:
    return await service.get_ping(ctx, ping_id)
