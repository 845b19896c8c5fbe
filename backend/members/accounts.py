"""Accounts follow Keycloak: a person disabled or deleted there is disabled here, and enabled again
when Keycloak enables them.

Two periodic jobs keep ``users.disabled_at`` in step. ``follow`` runs every few seconds and reads only
what changed: Keycloak's admin events (user updated or deleted) since a cursor kept in Redis, then each
named account's state. ``reconcile`` runs every few minutes and compares every account, so a missed
event (admin events switched off, an event expired, Redis lost the cursor) is repaired anyway. A disabled
account is refused on every process: the request context reads ``disabled_at`` (``app_enter``), and
personal API tokens are verified with a join on it (docs/security.md). Its Keycloak sessions end too,
through the back-channel revocation (``backend/core/revocation.py``): the subject is revoked in Redis
and published, so every API process refuses the access tokens issued before from memory, and the web
app's cookie sessions of that person are deleted. Enabling the account again lifts ``disabled_at``: the
personal tokens work again and the person signs in afresh (a session alive when they were disabled
stays ended).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import structlog
from redis.asyncio import Redis
from sqlalchemy import text

from backend.core.db import Database
from backend.core.revocation import Revocations
from backend.core.websession import end_sessions
from backend.members.keycloak import IdentityProvider

log = structlog.get_logger(__name__)
CURSOR_KEY = "worktime:accounts:events_cursor"
_STATES = text("SELECT id, disabled FROM app_account_states()")
_SET = text("SELECT app_set_account_disabled(:id, :disabled)")


@dataclass
class Changes:
    disabled: list[uuid.UUID] = field(default_factory=list)
    enabled: list[uuid.UUID] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {"disabled": [str(i) for i in self.disabled], "enabled": [str(i) for i in self.enabled]}


@dataclass
class Revoker:
    """Ends a disabled person's Keycloak sessions on every process (back-channel revocation by subject)
    and deletes their web sessions."""

    redis: Redis
    revocations: Revocations

    async def end(self, user_ids: list[uuid.UUID]) -> None:
        if not user_ids:
            return
        keys = [f"sub:{user_id}" for user_id in user_ids]
        # Web sessions first: whoever sees the revocation published finds them gone as well.
        ended = await end_sessions(self.redis, keys)
        await self.revocations.revoke(self.redis, keys)
        if ended:
            log.info("web_sessions_ended", count=ended, source="keycloak")


async def _apply(db: Database, wanted: dict[uuid.UUID, bool], revoker: Revoker | None = None) -> Changes:
    """Set each account's disabled flag to ``wanted[id]`` (accounts unknown here are ignored); the
    sessions of the accounts disabled now end everywhere (after the commit: a rolled-back change ends
    nothing)."""
    changes = Changes()
    async with db.unit_of_work() as session:
        for user_id, disabled in sorted(wanted.items()):
            if await session.scalar(_SET, {"id": user_id, "disabled": disabled}):
                (changes.disabled if disabled else changes.enabled).append(user_id)
    if revoker is not None:
        await revoker.end(changes.disabled)
    for user_id in changes.disabled:
        log.warning("account_disabled", user_id=str(user_id), source="keycloak")
    for user_id in changes.enabled:
        log.info("account_enabled", user_id=str(user_id), source="keycloak")
    return changes


async def reconcile(db: Database, idp: IdentityProvider, revoker: Revoker | None = None) -> Changes:
    """Compare every account with Keycloak: missing or disabled there means disabled here."""
    in_keycloak = await idp.enabled_accounts()
    async with db.unit_of_work() as session:
        known = {row.id: row.disabled for row in (await session.execute(_STATES)).all()}
    wanted: dict[uuid.UUID, bool] = {}
    for user_id in known:
        enabled = in_keycloak.get(user_id)
        if enabled is None:  # not listed: deleted, or a client's service account (the listing hides those)
            enabled = bool(await idp.account_enabled(user_id))
        wanted[user_id] = not enabled
    drift = {user_id: disabled for user_id, disabled in wanted.items() if known[user_id] != disabled}
    return await _apply(db, drift, revoker)


async def follow(db: Database, idp: IdentityProvider, redis: Redis, revoker: Revoker | None = None) -> Changes:
    """Apply the accounts changed since the last run (the first run only sets the cursor: the reconcile
    covers what came before)."""
    now_ms = int(time.time() * 1000)
    raw = await redis.get(CURSOR_KEY)
    if raw is None:
        await redis.set(CURSOR_KEY, str(now_ms))
        return Changes()
    changed, newest = await idp.accounts_changed_since(int(raw))
    wanted: dict[uuid.UUID, bool] = {}
    for user_id in changed:
        enabled = await idp.account_enabled(user_id)
        wanted[user_id] = not enabled  # deleted (None) or disabled: disabled here
    changes = await _apply(db, wanted, revoker)
    if newest > int(raw):
        await redis.set(CURSOR_KEY, str(newest))
    return changes
