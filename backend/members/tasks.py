"""The periodic jobs that keep accounts in step with Keycloak (see ``accounts``)."""

from __future__ import annotations

from functools import lru_cache

import structlog
from redis.asyncio import Redis

from backend.core import jobs
from backend.core.revocation import Revocations
from backend.core.worker import worker_database
from backend.members import accounts
from backend.members.keycloak import IdentityProvider
from backend.settings import get_settings

log = structlog.get_logger(__name__)


@lru_cache(maxsize=1)
def _identity_provider() -> IdentityProvider:
    return IdentityProvider(get_settings())  # one per worker process, like the API's


def _revoker(redis: Redis) -> accounts.Revoker:
    settings = get_settings()
    # The same horizon as the API's verifier: as long as an access token issued before could be valid.
    ttl = settings.access_token_lifespan_seconds + settings.jwt_leeway_seconds
    return accounts.Revoker(redis, Revocations(ttl))


@jobs.actor(max_retries=0, time_limit=60_000)
async def follow_keycloak_accounts() -> None:
    redis = Redis.from_url(get_settings().redis_url, socket_timeout=5)
    try:
        changes = await accounts.follow(worker_database(), _identity_provider(), redis, _revoker(redis))
    finally:
        await redis.aclose()
    if changes.disabled or changes.enabled:
        log.info("accounts_followed", **changes.as_dict())


@jobs.actor(max_retries=0, time_limit=600_000)
async def reconcile_keycloak_accounts() -> None:
    redis = Redis.from_url(get_settings().redis_url, socket_timeout=5)
    try:
        changes = await accounts.reconcile(worker_database(), _identity_provider(), _revoker(redis))
    finally:
        await redis.aclose()
    log.info("accounts_reconciled", **changes.as_dict())
