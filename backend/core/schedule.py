"""Periodic jobs, offered by every worker process and let through once per interval by a Redis lease.

Each worker runs one daemon thread that, every few seconds, tries ``SET <lease> <process> NX PX <interval>``
for each periodic job; the process that sets the key sends the job (through the broker, so it runs on a
worker thread with dramatiq's retries and time limit), the others find the key and do nothing until it
expires. So the job is sent at most once per interval however many workers run, and still runs while
any one of them is alive. The lease is not held while the job runs: a job that outlasts its interval may
overlap the next run, so periodic jobs must be idempotent (``export sweep`` is).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis
import structlog

log = structlog.get_logger(__name__)
LEASE_PREFIX = "worktime:schedule:"
_MAX_TICK_SECONDS = 5.0
_MIN_TICK_SECONDS = 0.2


@dataclass(frozen=True)
class Periodic:
    name: str
    every_seconds: float
    send: Callable[[], None]

    @property
    def lease(self) -> str:
        # The interval is part of the key: a worker configured with a longer one (during a rolling
        # change of the setting) would otherwise hold the lease that long and starve the shorter one.
        return f"{LEASE_PREFIX}{self.name}:{self.every_seconds:g}s"


def start(url: str, periodic: Sequence[Periodic], stop: threading.Event) -> threading.Thread | None:
    """Start the scheduler thread (None when nothing is scheduled)."""
    due = [job for job in periodic if job.every_seconds > 0]
    if not due:
        return None
    holder = f"{os.getpid()}:{uuid.uuid4().hex[:8]}"
    # Ticks shorter than the shortest interval, so a lease that just expired is taken again soon.
    tick = max(_MIN_TICK_SECONDS, min(_MAX_TICK_SECONDS, min(job.every_seconds for job in due) / 4))
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)

    def run() -> None:
        while not stop.is_set():
            for job in due:
                offer(client, job, holder)
            stop.wait(tick)

    thread = threading.Thread(target=run, name="scheduler", daemon=True)
    thread.start()
    log.info("scheduler_started", jobs={job.name: job.every_seconds for job in due})
    return thread


def offer(client: redis.Redis, job: Periodic, holder: str) -> bool:
    """Send ``job`` if this process takes its lease for the next interval; True when it was sent."""
    try:
        if not client.set(job.lease, holder, nx=True, px=max(1, int(job.every_seconds * 1000))):
            return False
    except redis.RedisError as exc:  # Redis away: the next tick tries again
        log.warning("scheduler_lease_unavailable", job=job.name, error=type(exc).__name__)
        return False
    try:
        job.send()
    except Exception as exc:  # give the lease back so the next tick (here or elsewhere) sends it
        log.warning("scheduled_job_not_sent", job=job.name, error=f"{type(exc).__name__}: {exc}")
        try:
            if client.get(job.lease) == holder.encode():
                client.delete(job.lease)
        except redis.RedisError:
            pass
        return False
    log.info("scheduled_job_sent", job=job.name)
    return True
