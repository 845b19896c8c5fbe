"""The transactional outbox: jobs are rows written in the transaction that produced them, and a relay
hands them to the broker after they commit.

Why: enqueueing on Redis from the request path either blocks the event loop (a paused Redis stalls
every request for the socket timeout) or, after COMMIT, loses the job when Redis is down. Here the
request only INSERTs a row next to its data (committed or rolled back with it); the relay, an asyncio
task in every API process, claims pending rows, enqueues them from a thread with a timeout, marks them
sent, and retries failures with exponential back-off; after a failed send it probes the broker, waits
for it while it is away, and sends what failed meanwhile as soon as it answers. A commit wakes it at
once (an ``AFTER INSERT`` trigger NOTIFYs ``outbox``); a short poll covers a lost notification and due
retries.

Delivery is at least once: a relay that dies after the enqueue but before marking the row sent leaves
it to be sent again when its lease runs out. Messages carry the row's id as their dramatiq message id.

Row-level security (migration 0006): the runtime role may only INSERT rows of its current tenant (or
rows with no tenant when none is bound) and cannot SELECT, UPDATE or DELETE them. The relay reads every
tenant's rows through three SECURITY DEFINER functions owned by the owner role (``outbox_claim``,
``outbox_sent``, ``outbox_failed``) that do nothing but claim due rows with ``FOR UPDATE SKIP LOCKED``
and record the outcome; see docs/security.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import dramatiq
import structlog
from sqlalchemy import Column, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Field, SQLModel

from backend.core.models import timestamp_field, uuid_pk

log = structlog.get_logger(__name__)

CHANNEL = "outbox"


class OutboxMessage(SQLModel, table=True):
    """A job waiting to be handed to the broker (or already handed: ``sent_at`` is set)."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "next_attempt_at", "created_at", postgresql_where=text("sent_at IS NULL")),
        Index("ix_outbox_sent_at", "sent_at", postgresql_where=text("sent_at IS NOT NULL")),
    )
    # The runtime role may INSERT but not read these rows, so the ORM must not ask for RETURNING.
    __mapper_args__ = {"eager_defaults": False}

    id: uuid.UUID = uuid_pk()
    # Filled by a BEFORE INSERT trigger from the bound tenant (app_current_org()) when left unset.
    org_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True), nullable=True))
    queue_name: str = Field(sa_column=Column(String(100), nullable=False))
    actor_name: str = Field(sa_column=Column(String(200), nullable=False))
    arguments: list[Any] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    keywords: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    request_id: str | None = Field(default=None, sa_column=Column(String(64)))
    created_at: datetime = timestamp_field()
    next_attempt_at: datetime = timestamp_field()
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    sent_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    last_error: str | None = Field(default=None, sa_column=Column(Text))


_CLAIM = text(
    "SELECT id, queue_name, actor_name, arguments, keywords, request_id, created_at, attempts "
    "FROM outbox_claim(:batch, :lease)"
)
_SENT = text("SELECT outbox_sent(:ids)")
_FAILED = text("SELECT outbox_failed(:id, :error)")
_BROKER_BACK = text("SELECT outbox_broker_back()")


class Relay:
    """Moves committed outbox rows to the broker without blocking the event loop."""

    def __init__(
        self,
        engine: AsyncEngine,
        enqueue: Any,
        *,
        listen_dsn: str | None,
        batch: int = 100,
        poll_seconds: float = 1.0,
        send_timeout_seconds: float = 5.0,
        lease_seconds: float = 30.0,
        probe: Callable[[], object] | None = None,
    ) -> None:
        self._engine = engine
        self._enqueue = enqueue  # a blocking callable taking a dramatiq.Message, run in a thread
        self._listen_dsn = listen_dsn
        self._batch = batch
        self._poll = poll_seconds
        self._send_timeout = send_timeout_seconds
        self._lease = lease_seconds
        self._wake = asyncio.Event()
        # A blocking broker health check (Redis PING). After a failed send the relay asks it before the
        # next batch: a broker that does not answer is waited for (no rows claimed meanwhile), and when
        # it answers again every row that failed during the outage is due at once.
        self._probe = probe
        self._send_failed = False
        self._broker_down = False

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen())
        try:
            while True:
                try:
                    while await self._broker_ready() and await self.relay_once():
                        pass
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the database is away: try again on the next tick
                    # No traceback: rendering one on every tick would itself stall the event loop.
                    log.warning("outbox_relay_failed", error=f"{type(exc).__name__}: {exc}"[:300])
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener

    async def _broker_ready(self) -> bool:
        if self._probe is None or not (self._send_failed or self._broker_down):
            return True
        try:
            await asyncio.wait_for(asyncio.to_thread(self._probe), self._send_timeout)
        except Exception as exc:
            if not self._broker_down:
                log.warning("outbox_broker_down", error=f"{type(exc).__name__}: {exc}"[:300])
            self._broker_down = True
            return False
        self._send_failed = False
        if self._broker_down:  # an outage, not one bad message: what failed meanwhile goes now
            self._broker_down = False
            async with self._engine.begin() as connection:
                due = (await connection.execute(_BROKER_BACK)).scalar_one()
            log.info("outbox_broker_back", rows_due_now=due)
        return True

    async def relay_once(self) -> int:
        """Claim one batch of due rows and send them; returns how many were claimed."""
        async with self._engine.begin() as connection:
            rows = (await connection.execute(_CLAIM, {"batch": self._batch, "lease": self._lease})).all()
        sent: list[uuid.UUID] = []
        for row in rows:
            message: dramatiq.Message[Any] = dramatiq.Message(
                queue_name=row.queue_name,
                actor_name=row.actor_name,
                args=tuple(row.arguments),
                kwargs=dict(row.keywords),
                options={"request_id": row.request_id} if row.request_id else {},
                message_id=str(row.id),
                message_timestamp=int(row.created_at.timestamp() * 1000),
            )
            try:
                await asyncio.wait_for(asyncio.to_thread(self._enqueue, message), self._send_timeout)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"[:1000]
                log.warning(
                    "outbox_send_failed",
                    actor=row.actor_name,
                    message_id=str(row.id),
                    attempts=row.attempts,
                    error=error,
                )
                self._send_failed = True
                # Redis is likely away: stop this batch. Its unsent rows are marked failed with it, so
                # they back off (or go at once when the broker is back) instead of waiting out the lease.
                unsent = [r.id for r in rows if r.id not in sent]
                async with self._engine.begin() as connection:
                    for row_id in unsent:
                        await connection.execute(_FAILED, {"id": row_id, "error": error})
                break
            sent.append(row.id)
        if sent:
            async with self._engine.begin() as connection:
                await connection.execute(_SENT, {"ids": sent})
            log.info("outbox_sent", count=len(sent))
        return len(rows) if len(sent) == len(rows) else 0

    async def _listen(self) -> None:
        """LISTEN on the outbox channel so a commit wakes the relay at once; reconnects when dropped."""
        if not self._listen_dsn:
            return
        import asyncpg

        while True:
            try:
                connection = await asyncpg.connect(self._listen_dsn, timeout=5)
                try:
                    closed = asyncio.Event()
                    connection.add_termination_listener(lambda *_, done=closed: done.set())
                    await connection.add_listener(CHANNEL, lambda *_: self._wake.set())
                    self._wake.set()  # catch anything committed while we were not listening
                    await closed.wait()
                finally:
                    with contextlib.suppress(Exception):
                        await connection.close(timeout=2)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox_listen_failed", error=f"{type(exc).__name__}: {exc}"[:300])
            await asyncio.sleep(2.0)


def serialisable(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """Job arguments must round-trip through JSON exactly (ids as strings, not UUID objects)."""
    encoded = json.loads(json.dumps([list(args), kwargs]))
    return list(encoded[0]), dict(encoded[1])
