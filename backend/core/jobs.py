"""Dramatiq on Redis, with messages held back until the transaction that produced them commits.

A job sent from inside a unit of work sits in a context-local buffer; the unit of work flushes the
buffer after COMMIT and drops it on ROLLBACK, so a worker never sees an id whose row does not exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ParamSpec

import dramatiq
import structlog
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AsyncIO, CurrentMessage

from backend.settings import get_settings

P = ParamSpec("P")
log = structlog.get_logger(__name__)

_broker = RedisBroker(url=get_settings().redis_url)  # type: ignore[no-untyped-call]
_broker.add_middleware(CurrentMessage())
_broker.add_middleware(AsyncIO())
dramatiq.set_broker(_broker)


def broker() -> RedisBroker:
    return _broker


@dataclass
class _Pending:
    messages: list[dramatiq.Message[Any]] = field(default_factory=list)

    def flush(self) -> None:
        for message in self.messages:
            try:
                _broker.enqueue(message)
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


def send(actor: dramatiq.Actor[P, Any], *args: Any, **kwargs: Any) -> dramatiq.Message[Any]:
    """Send ``actor(*args, **kwargs)``: after commit inside a unit of work, at once outside one."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    message = actor.message_with_options(args=args, kwargs=kwargs, request_id=request_id)
    pending = _pending.get()
    if pending is None:
        _broker.enqueue(message)
    else:
        pending.messages.append(message)
    return message


def current_request_id() -> str | None:
    message = CurrentMessage.get_current_message()
    value = message.options.get("request_id") if message else None
    return value if isinstance(value, str) else None


def actor(**options: Any) -> Callable[[Callable[P, Any]], dramatiq.Actor[P, Any]]:
    """``dramatiq.actor`` bound to our broker, with the producing request id in every log line."""

    def decorate(fn: Callable[P, Any]) -> dramatiq.Actor[P, Any]:
        async def run(*args: P.args, **kwargs: P.kwargs) -> Any:
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(request_id=current_request_id(), job=fn.__name__)
            return await fn(*args, **kwargs)

        run.__name__ = fn.__name__
        run.__qualname__ = fn.__qualname__
        registered: dramatiq.Actor[P, Any] = dramatiq.actor(run, broker=_broker, **options)  # type: ignore[call-overload]
        return registered

    return decorate
