from __future__ import annotations

import os
import uuid

import structlog

from backend.core import jobs
from backend.core.models import utcnow
from backend.core.worker import worker_database
from backend.diagnostics.models import Ping

log = structlog.get_logger(__name__)


@jobs.actor(max_retries=3)
async def process_ping(org_id: str, ping_id: str) -> None:
    """Mark a ping processed, inside its organization's tenant context like any other tenant job."""
    async with worker_database().unit_of_work(org_id=uuid.UUID(org_id)) as session:
        ping = await session.get(Ping, uuid.UUID(ping_id))
        if ping is None:
            log.warning("ping_missing", ping_id=ping_id)
            return
        ping.processed_at = utcnow()
        ping.worker_pid = os.getpid()
    log.info("ping_processed", ping_id=ping_id)
