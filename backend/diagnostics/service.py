from __future__ import annotations

import uuid

from backend.core import audit, jobs
from backend.core.errors import NotFound
from backend.diagnostics.models import Ping
from backend.diagnostics.schemas import PingRead
from backend.tenancy import guard
from backend.tenancy.context import OrgContext


def _read(ping: Ping) -> PingRead:
    return PingRead(
        id=ping.id,
        status="processed" if ping.processed_at else "queued",
        requested_at=ping.requested_at,
        processed_at=ping.processed_at,
        worker_pid=ping.worker_pid,
    )


async def request_ping(ctx: OrgContext) -> PingRead:
    guard.require(ctx, "diagnostics:run")
    ping = Ping(org_id=ctx.org_id, requested_by=ctx.user_id)
    ctx.session.add(ping)
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="diagnostics.ping_requested",
        resource_type="diagnostic_ping",
        resource_id=ping.id,
    )
    jobs.send("process_ping", str(ctx.org_id), str(ping.id))
    return _read(ping)


async def get_ping(ctx: OrgContext, ping_id: uuid.UUID) -> PingRead:
    guard.require(ctx, "diagnostics:read")
    ping = await ctx.session.get(Ping, ping_id)
    if ping is None or ping.org_id != ctx.org_id:
        raise NotFound("No such ping.")
    return _read(ping)
