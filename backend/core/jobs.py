"""Dramatiq on Redis, with messages held back until the transaction that produced them commits.

A job sent from inside a unit of work sits in a context-local buffer; the unit of work flushes the
buffer after COMMIT and drops it on ROLLBACK, so a worker never sees an id whose row does not exist.

The broker is built on first use, not at import: importing a model or a migration must not need Redis.
Actors are declared with :func:`actor` and bound to the broker when it is built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Generic, ParamSpec

import dramatiq
import structlog
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AsyncIO, CurrentMessage

from backend.settings import get_settings

P = ParamSpec("P")
log = structlog.get_logger(__name__)


class Actor(Generic[P]):
    """A job function whose dramatiq actor is declared on the broker when the broker is first built."""

    def __init__(self, fn: Callable[P, Any], options: dict[str, Any]) -> None:
        self.fn = fn
        self.name = fn.__name__
        self._options = options

    @property
    def dramatiq_actor(self) -> dramatiq.Actor[P, Any]:
        broker()  # declares every registered actor
        return _declared[self.name]

    def declare(self, on: RedisBroker) -> None:
        fn = self.fn

        async def run(*args: P.args, **kwargs: P.kwargs) -> Any:
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(request_id=current_request_id(), job=fn.__name__)
            return await fn(*args, **kwargs)

        run.__name__ = fn.__name__
        run.__qualname__ = fn.__qualname__
        _declared[self.name] = dramatiq.actor(run, broker=on, **self._options)  # type: ignore[call-overload]


_registry: list[Actor[Any]] = []
_declared: dict[str, dramatiq.Actor[Any, Any]] = {}


@lru_cache(maxsize=1)
def broker() -> RedisBroker:
    built = RedisBroker(url=get_settings().redis_url)  # type: ignore[no-untyped-call]
    built.add_middleware(CurrentMessage())
    built.add_middleware(AsyncIO())
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
    messages: list[dramatiq.Message[Any]] = field(default_factory=list)

    def flush(self) -> None:
        for message in self.messages:
            try:
                broker().enqueue(message)
            except Exception:
                # The data is committed; losing the job is reported loudly rather than failing the request.
                log.exception("job_enqueue_failed", actor=message.actor_name, message_id=message.message_id)
        self.messages.clear()


_pending: ContextVar[_Pending | None] = ContextVar("worktime_pending_jobs", default=None)


@contextmanager
def buffer() -> Iterator[_Pending]:
    pending = _Pending()
    token = _pending.set(pending)
    try:
        yield pending
    finally:
        _pending.reset(token)


def send(job: Actor[P], *args: Any, **kwargs: Any) -> dramatiq.Message[Any]:
    """Send ``job(*args, **kwargs)``: after commit inside a unit of work, at once outside one."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    message = job.dramatiq_actor.message_with_options(args=args, kwargs=kwargs, request_id=request_id)
    pending = _pending.get()
    if pending is None:
        broker().enqueue(message)
    else:
        pending.messages.append(message)
    return message


def current_request_id() -> str | None:
    message = CurrentMessage.get_current_message()
    value = message.options.get("request_id") if message else None
    return value if isinstance(value, str) else None
