"""Session revocation that takes effect now: Keycloak's OIDC back-channel logout.

When a session ends in Keycloak (an admin logs the user out, the user logs out, a session is
revoked), Keycloak POSTs a signed logout token to ``/api/v1/auth/backchannel-logout``. The API records
the token's ``sid`` (or, without one, its ``sub``) in Redis for as long as any access token issued before
could still be valid, and publishes it. Every API process keeps the revocations in memory, filled at
startup and on every reconnect from Redis, and kept current by the pub/sub channel, so the verifier
checks them with a dictionary lookup: no Redis round trip per request. An access token is refused when
its ``sid`` or ``sub`` was revoked at or after the token's ``iat``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

import structlog
from redis.asyncio import Redis

log = structlog.get_logger(__name__)

CHANNEL = "worktime:auth:revoked"
KEY_PREFIX = "worktime:revoked:"
_RETRY_SECONDS = 2.0


class Revocations:
    """The revoked session ids and subjects this process knows of, each with its revocation time."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds
        self._revoked: dict[str, float] = {}  # "sid:<sid>" or "sub:<sub>" -> unix time of revocation

    def add(self, key: str, revoked_at: float) -> None:
        if revoked_at > self._revoked.get(key, float("-inf")):
            self._revoked[key] = revoked_at
        self._prune()

    def is_revoked(self, *, sid: str | None, sub: str, issued_at: float) -> bool:
        if not self._revoked:
            return False
        for key in (f"sid:{sid}" if sid else None, f"sub:{sub}"):
            revoked_at = self._revoked.get(key) if key else None
            if revoked_at is not None and issued_at <= revoked_at:
                return True
        return False

    def _prune(self) -> None:
        horizon = time.time() - self.ttl_seconds
        for key in [k for k, at in self._revoked.items() if at < horizon]:
            del self._revoked[key]

    async def revoke(self, redis: Redis, keys: Iterable[str]) -> None:
        """Record revocations in Redis (for processes starting later) and tell every running process."""
        now = time.time()
        for key in keys:
            self.add(key, now)
            async with redis.pipeline(transaction=False) as pipe:
                pipe.set(KEY_PREFIX + key, repr(now), ex=max(1, int(self.ttl_seconds)))
                pipe.publish(CHANNEL, f"{key}={now!r}")
                await pipe.execute()
        log.info("sessions_revoked", keys=list(keys))

    async def sync(self, redis: Redis) -> None:
        """Load every revocation still in Redis."""
        async for name in redis.scan_iter(match=KEY_PREFIX + "*", count=500):
            value = await redis.get(name)
            if value is not None:
                key = (name.decode() if isinstance(name, bytes) else str(name))[len(KEY_PREFIX) :]
                self.add(key, float(value))

    async def listen(self, redis: Redis) -> None:
        """Run until cancelled: subscribe, then sync (so nothing published in between is missed)."""
        while True:
            try:
                async with redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    await self.sync(redis)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            data = message["data"]
                            key, _, at = (data.decode() if isinstance(data, bytes) else str(data)).rpartition("=")
                            self.add(key, float(at))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: keep what we know, resync when it is back
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from exc
                log.warning("revocation_listener_down", error=type(exc).__name__)
                await asyncio.sleep(_RETRY_SECONDS)
