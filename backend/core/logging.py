"""structlog set-up, the log context of a request or job, and the access line.

Every log line of a request carries its request id (and, once known, the user and organization): one
mutable dict per request or job in a single context variable, merged into each line by a processor.
(structlog's own contextvars helpers keep one variable per key and copy the whole context on every read,
about 10 us a request.) The access line (one per request: method, path, status, latency) is rendered
straight to JSON in production; the edge middleware (backend/core/edge.py) writes it.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import random
import re
import sys
from collections.abc import MutableMapping
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

ACCESS_LOGGER = "worktime.access"
access_log = structlog.get_logger(ACCESS_LOGGER)

_context: ContextVar[dict[str, Any] | None] = ContextVar("worktime_log_context", default=None)


def start_log_context(**values: Any) -> Token[dict[str, Any] | None]:
    """A fresh log context for a request or a job; ``reset_log_context`` with the token ends it."""
    return _context.set(dict(values))


def reset_log_context(token: Token[dict[str, Any] | None]) -> None:
    _context.reset(token)


def bind_log_context(**values: Any) -> None:
    """Adds to the current request's (or job's) log context: every later line of it carries these."""
    current = _context.get()
    if current is None:
        _context.set(dict(values))
    else:
        current.update(values)


def log_context() -> dict[str, Any]:
    return _context.get() or {}


def _merge_log_context(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    current = _context.get()
    if current:
        for key, value in current.items():
            event.setdefault(key, value)
    return event


# Path segments that are credentials (a calendar feed's or a shared report's secret URL token): never logged.
_SECRET_SEGMENT = re.compile(r"/(wtcal_|wtrep_)[^/]*")


def redact_path(path: str | None) -> str | None:
    # The substring test first: nearly no path has a secret segment, and the regex costs ~30x more.
    return _SECRET_SEGMENT.sub(r"/\1…", path) if path and "/wt" in path else path


log = structlog.get_logger(__name__)


class _StdoutLogger:
    """structlog's final logger: one rendered line to the current ``sys.stdout``, flushed, so a log file
    under a supervisor is complete up to the last line even when the process dies."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name  # read by add_logger_name

    def msg(self, message: str | bytes) -> None:
        stream = sys.stdout
        if isinstance(message, bytes):  # the JSON renderer (orjson) renders bytes
            stream.flush()
            stream.buffer.write(message + b"\n")
            stream.buffer.flush()
        else:
            stream.write(message + "\n")
            stream.flush()

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


class _AccessSink:
    """Access lines, written once per event-loop turn: a request's line waits at most until the loop's
    next turn (microseconds when idle), and under load one write carries every line of the turn instead
    of one flush per request (two system calls each; ``make bench``: ~40 % of ``/health/live``)."""

    def __init__(self) -> None:
        self._pending: list[bytes] = []
        self._scheduled = False
        atexit.register(self.flush)

    def write(self, line: bytes) -> None:
        self._pending.append(line)
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # outside the event loop (a CLI, a worker thread): at once
            self.flush()
            return
        self._scheduled = True
        loop.call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        lines, self._pending = self._pending, []
        if lines:
            stream = sys.stdout
            stream.flush()  # anything written as text before these lines goes out first
            stream.buffer.write(b"".join(lines))
            stream.buffer.flush()


def _logger_factory(*args: Any) -> _StdoutLogger:
    return _StdoutLogger(str(args[0]) if args else "worktime")


def configure_logging(*, level: str = "INFO", json: bool = False) -> None:
    """Our own log lines (the access line on every request among them) go through structlog alone:
    no stdlib LogRecord, handler or formatter on the hot path. Library loggers (uvicorn, sqlalchemy,
    dramatiq) go through the stdlib and are rendered by the same processors."""
    shared: list[structlog.types.Processor] = [
        _merge_log_context,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(serializer=orjson.dumps, option=orjson.OPT_NON_STR_KEYS)
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    exceptions: list[structlog.types.Processor] = [structlog.processors.format_exc_info] if json else []
    numeric_level = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[*shared, *exceptions, renderer],
        # Disabled levels are no-op methods: nothing at all runs for them.
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=_logger_factory,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        # A stdlib formatter must return text: the same rendering through the standard json module.
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *exceptions,
            structlog.processors.JSONRenderer() if json else renderer,
        ],
    )
    global _access_json, _access_on
    _access_json, _access_on = json, numeric_level <= logging.INFO
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric_level)
    # uvicorn's own access log would duplicate ours; httpx logs every JWKS fetch at INFO.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


_ACCESS_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE
_access_json = False
_access_on = True
_access_sink = _AccessSink()


def new_request_id() -> str:
    # A correlation id, not a secret: 128 bits from the module PRNG (seeded from the OS, and again in a
    # forked child) spare a system call per request.
    return f"{random.getrandbits(128):032x}"


def valid_request_id(value: str | None) -> str:
    """The caller's ``X-Request-ID`` when it is a sane token, a new one otherwise."""
    return value if value and _VALID_REQUEST_ID.match(value) else new_request_id()


def access_line(method: str | None, path: str | None, status: int, latency_ms: float) -> None:
    """One line per request, with the request's log context (request id, user, organization). In JSON
    the line is rendered here, with the keys structlog's chain would give it, at a third of the cost."""
    if not _access_on:
        return
    context = log_context()
    if not _access_json:
        access_log.info(
            "request",
            method=method,
            path=redact_path(path),
            status=status,
            latency_ms=latency_ms,
            user_id=context.get("user_id"),
            org_id=context.get("org_id"),
        )
        return
    line = {
        **context,
        "user_id": context.get("user_id"),
        "org_id": context.get("org_id"),
        "method": method,
        "path": redact_path(path),
        "status": status,
        "latency_ms": latency_ms,
        "event": "request",
        "level": "info",
        "logger": ACCESS_LOGGER,
        "timestamp": datetime.now(UTC),  # orjson renders it as structlog's TimeStamper does, ~10x faster
    }
    _access_sink.write(orjson.dumps(line, default=str, option=_ACCESS_OPTIONS))
