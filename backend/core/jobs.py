"""Dramatiq on Redis, fed through a transactional outbox (backend/core/outbox.py).

A job sent from inside a unit of work becomes a row in the ``outbox`` table, written in that unit's
transaction: it commits with the data it refers to (so a worker never sees an id whose row does not
exist) or disappears with it. The request never talks to Redis; the outbox relay in each API process
enqueues committed rows from a thread, retrying while Redis is away, so a slow or stopped Redis
neither blocks the event loop nor loses the job.

The broker is built on first use, not at import: importing a model or a migration must not need Redis.
Actors are declared with :func:`actor` and bound to the broker when it is built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, ParamSpec

import dramatiq
import structlog
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AsyncIO, CurrentMessage
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core import metrics, outbox
from backend.core.logging import log_context, reset_log_context, start_log_context
from backend.settings import get_settings

P = ParamSpec("P")
log = structlog.get_logger(__name__)


class Actor(Generic[P]):
    """A job function whose dramatiq actor is declared on the broker when the broker is first built."""

    def __init__(self, fn: Callable[P, Any], options: dict[str, Any]) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.queue_name: str = options.get("queue_name", "default")
        self._options = options

    @property
    def dramatiq_actor(self) -> dramatiq.Actor[P, Any]:
        broker()  # declares every registered actor
        return _declared[self.name]

    def declare(self, on: RedisBroker) -> None:
        fn = self.fn

        async def run(*args: P.args, **kwargs: P.kwargs) -> Any:
            token = start_log_context(request_id=current_request_id(), job=fn.__name__)
            try:
                return await fn(*args, **kwargs)
            finally:
                reset_log_context(token)

        run.__name__ = fn.__name__
        run.__qualname__ = fn.__qualname__
        _declared[self.name] = dramatiq.actor(run, broker=on, **self._options)  # type: ignore[call-overload]


_registry: list[Actor[Any]] = []
_declared: dict[str, dramatiq.Actor[Any, Any]] = {}


@lru_cache(maxsize=1)
def broker() -> RedisBroker:
    # Socket timeouts bound how long a relay thread can hang on a paused Redis.
    settings = get_settings()
    # Maintenance (re-queueing the jobs of workers whose heartbeat stopped) runs inside the broker's Lua
    # script, on a random share of commands; it costs two sorted-set range reads, so we run it on all of
    # them by default and a killed worker's jobs come back right after the heartbeat timeout.
    built = RedisBroker(  # type: ignore[no-untyped-call]
        url=settings.redis_url,
        socket_timeout=10,
        socket_connect_timeout=5,
        heartbeat_timeout=int(settings.jobs_heartbeat_timeout_seconds * 1000),
        maintenance_chance=settings.jobs_maintenance_chance,
    )
    built.add_middleware(CurrentMessage())
    built.add_middleware(AsyncIO())
    built.add_middleware(metrics.JobMetrics())
    dramatiq.set_broker(built)
    for registered in _registry:
        registered.declare(built)
    return built


def actor(**options: Any) -> Callable[[Callable[P, Any]], Actor[P]]:
    """Declare a job (an ``async`` function taking ids); every log line it writes carries the id of
    the request that sent it."""

    def decorate(fn: Callable[P, Any]) -> Actor[P]:
        registered = Actor(fn, options)
        _registry.append(registered)
        if broker.cache_info().currsize:  # declared after the broker was built
            registered.declare(broker())
        return registered

    return decorate


@dataclass
class _Pending:
    session: AsyncSession


_pending: ContextVar[_Pending | None] = ContextVar("worktime_pending_jobs", default=None)


@contextmanager
def buffer(session: AsyncSession) -> Iterator[_Pending]:
    """Route :func:`send` inside this block to ``session``'s transaction (the outbox)."""
    pending = _Pending(session)
    token = _pending.set(pending)
    try:
        yield pending
    finally:
        _pending.reset(token)


def send(job: Actor[P] | str, *args: Any, **kwargs: Any) -> None:
    """Send ``job(*args, **kwargs)``: as an outbox row of the current transaction inside a unit of work
    (relayed after commit), at once outside one (operator tools; this blocks on Redis).

    A service names its job by the actor's name (``jobs.send("run_export", ...)``) rather than importing
    the job module, which imports the service: the job takes ids and calls service functions, and the
    two never import each other (an import-linter contract keeps it so)."""
    name = job if isinstance(job, str) else job.name
    request_id = log_context().get("request_id")
    pending = _pending.get()
    if pending is None:
        declared = declared_actor(name)
        broker().enqueue(declared.message_with_options(args=args, kwargs=kwargs, request_id=request_id))
        return
    encoded_args, encoded_kwargs = outbox.serialisable(args, kwargs)
    pending.session.add(
        outbox.OutboxMessage(
            queue_name=_queue_of(name),
            actor_name=name,
            arguments=encoded_args,
            keywords=encoded_kwargs,
            request_id=request_id if isinstance(request_id, str) else None,
        )
    )


def registered_names() -> frozenset[str]:
    """The names of every job declared so far (all of them once ``backend.tasks`` is imported)."""
    return frozenset(actor.name for actor in _registry)


def _queue_of(name: str) -> str:
    registered = next((actor for actor in _registry if actor.name == name), None)
    return registered.queue_name if registered is not None else "default"


def declared_actor(name: str) -> dramatiq.Actor[Any, Any]:
    """The declared actor of that name; a name no job module registered is a programming error."""
    broker()
    try:
        return _declared[name]
    except KeyError:
        raise LookupError(f"No job named {name!r} is registered (is its tasks module in backend/tasks.py?)") from None


def enqueue(message: dramatiq.Message[Any]) -> None:
    """Hand a message to Redis (blocking: the outbox relay calls this from a thread)."""
    broker().enqueue(message)


def ping_broker() -> None:
    """Raises unless Redis answers (blocking: the outbox relay calls this from a thread)."""
    broker().client.ping()


def current_request_id() -> str | None:
    message = CurrentMessage.get_current_message()
    value = message.options.get("request_id") if message else None
    return value if isinstance(value, str) else None
