"""Jobs go through a transactional outbox (issue 8): a paused or stopped Redis neither blocks the event
loop nor loses the job.

Redis is paused with SIGSTOP (the stack's own redis-server, found by its port): connections stay open
and every command hangs, the worst case for a client.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from tests.conftest import Tokens
from tests.diagnostics.test_worker import worker  # noqa: F401  (the real worker process fixture)

# Redis stays paused for 2.5 s: a request that waited on it would take at least that long, so 1 s
# separates "never touched Redis" from "blocked" without failing on a busy 2-core machine.
FAST_SECONDS = 1.0


def _redis_pid() -> int:
    port = urlparse(os.environ.get("WORKTIME_REDIS_URL", "redis://127.0.0.1:56379/0")).port
    found = subprocess.run(["pgrep", "-f", f"redis-server.*:{port}"], capture_output=True, text=True, check=False)
    pids = [int(p) for p in found.stdout.split()]
    if len(pids) != 1:
        pytest.skip(f"cannot find the stack's redis-server on port {port} to pause it")
    return pids[0]


@contextlib.contextmanager
def _redis_paused() -> Iterator[None]:
    pid = _redis_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


async def _timed(request: Any) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    # A request blocked on Redis would hang here; fail it instead of the whole session.
    response = await asyncio.wait_for(request, timeout=15)
    return response, time.perf_counter() - started


async def _outbox_row(owner_db: Any, ping_id: str) -> dict[str, Any] | None:
    row = await owner_db.fetchrow(
        "SELECT * FROM outbox WHERE actor_name = 'process_ping' AND arguments ->> 1 = $1", ping_id
    )
    return dict(row) if row else None


async def test_a_paused_redis_does_not_slow_requests(
    client: httpx.AsyncClient, tokens: Tokens, demo_orgs: dict[str, Any]
) -> None:
    bob = await tokens.headers("bob")
    acme = demo_orgs["acme"]
    await client.get("/health/live")
    await client.get(f"/api/v1/orgs/{acme}/members", headers=bob)
    timings: dict[str, float] = {}
    with _redis_paused():
        sent, timings["ping"] = await _timed(client.post(f"/api/v1/orgs/{acme}/diagnostics/pings", headers=bob))
        assert sent.status_code == 202, sent.text
        # Now the relay is trying to enqueue on the paused Redis (from a thread); the loop stays free.
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            live, elapsed = await _timed(client.get("/health/live"))
            assert live.status_code == 200
            timings["live"] = max(timings.get("live", 0.0), elapsed)
            read, elapsed = await _timed(client.get(f"/api/v1/orgs/{acme}/members", headers=bob))
            assert read.status_code == 200, read.text
            timings["read"] = max(timings.get("read", 0.0), elapsed)
            await asyncio.sleep(0.1)
    print(f"slowest while Redis was paused: {timings}")  # noqa: T201
    # The ping (a write with its audit event, first of its kind in this app) needs no Redis either.
    assert timings["ping"] < 1.0, timings
    assert timings["live"] < FAST_SECONDS and timings["read"] < FAST_SECONDS, timings


async def test_a_job_sent_while_redis_is_away_runs_once_it_returns(
    client: httpx.AsyncClient,
    tokens: Tokens,
    demo_orgs: dict[str, Any],
    owner_db: Any,
    worker: subprocess.Popen[bytes],  # noqa: F811
) -> None:
    bob = await tokens.headers("bob")
    acme = demo_orgs["acme"]
    with _redis_paused():
        sent, _ = await _timed(client.post(f"/api/v1/orgs/{acme}/diagnostics/pings", headers=bob))
        assert sent.status_code == 202, sent.text
        ping_id = sent.json()["id"]
        row = await _outbox_row(owner_db, ping_id)
        # Committed with the ping, in its tenant, and not sent while Redis is away.
        assert row is not None and row["org_id"] == uuid.UUID(str(acme)) and row["sent_at"] is None
        await asyncio.sleep(6)  # long enough for the relay's enqueue to time out and be recorded
        row = await _outbox_row(owner_db, ping_id)
        assert row is not None and row["sent_at"] is None and row["attempts"] >= 1
        assert row["last_error"], row
    ping_url = f"/api/v1/orgs/{acme}/diagnostics/pings/{ping_id}"
    for _ in range(300):
        state = (await client.get(ping_url, headers=bob)).json()
        if state["status"] == "processed":
            break
        assert worker.poll() is None, "the worker exited"
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the ping was not processed within 30 s of Redis coming back")
    row = await _outbox_row(owner_db, ping_id)
    assert row is not None and row["sent_at"] is not None


async def test_the_runtime_role_cannot_read_the_outbox(runtime_db: Any) -> None:
    with pytest.raises(Exception, match="permission denied"):
        await runtime_db.fetch("SELECT * FROM outbox")


# ------------------------------------------------------------------ the relay after a broker outage


class _Broker:
    """Stands in for Redis on the relay's two calls (the relay is real, and so is its database)."""

    def __init__(self) -> None:
        self.down = False
        self.poison: set[str] = set()
        self.sent: list[str] = []

    def enqueue(self, message: Any) -> None:
        if self.down or message.message_id in self.poison:
            raise ConnectionError("broker unavailable")
        self.sent.append(message.message_id)

    def ping(self) -> None:
        if self.down:
            raise ConnectionError("broker unavailable")


async def _failed_outbox_row(owner_db: Any) -> uuid.UUID:
    """A row whose sends failed and that is backed off 50 s ahead, as after a long outage. Not due, so
    the relays of the test session's other apps leave it alone."""
    row_id = uuid.uuid4()
    await owner_db.execute(
        "INSERT INTO outbox (id, queue_name, actor_name, arguments, keywords, attempts, last_error, next_attempt_at)"
        " VALUES ($1, 'default', 'relay_test', '[]', '{}', 6, 'ConnectionError: broker unavailable',"
        " now() + interval '50 seconds')",
        row_id,
    )
    return row_id


async def test_after_an_outage_the_failed_rows_go_at_once_and_a_poison_message_keeps_its_back_off(
    settings: Any, owner_db: Any
) -> None:
    from backend.core.db import Database
    from backend.core.outbox import Relay

    database = Database(settings)
    broker = _Broker()
    relay = Relay(database.engine, broker.enqueue, listen_dsn=None, probe=broker.ping)
    try:
        # One message failed while Redis answers: that message's problem, it keeps its back-off.
        poison = await _failed_outbox_row(owner_db)
        relay._send_failed = True  # as relay_once leaves it after a failed send
        assert await relay._broker_ready()
        assert await owner_db.fetchval("SELECT next_attempt_at > now() FROM outbox WHERE id = $1", poison)
        await owner_db.execute("DELETE FROM outbox WHERE id = $1", poison)

        # A send failed and Redis does not answer: the relay waits (claims nothing) until it does...
        row_id = await _failed_outbox_row(owner_db)
        relay._send_failed, broker.down = True, True
        assert not await relay._broker_ready()
        assert not await relay._broker_ready()
        assert await owner_db.fetchval("SELECT next_attempt_at > now() FROM outbox WHERE id = $1", row_id)
        # ...and once it answers, what failed meanwhile is due at once (taken away here in the same
        # statement that checks it, before another relay could send it).
        broker.down = False
        assert await relay._broker_ready()
        due = await owner_db.fetchval("DELETE FROM outbox WHERE id = $1 RETURNING next_attempt_at <= now()", row_id)
        assert due is True
        assert await relay._broker_ready()  # back to normal: no probe until the next failed send
    finally:
        await owner_db.execute("DELETE FROM outbox WHERE actor_name = 'relay_test'")
        await database.dispose()
