"""structlog set-up and the request-context middleware.

Every log line of a request carries its request id (and, once known, the user and organization) through
structlog's context variables; one access line per request records method, path, status and latency.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from typing import Any

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.core.errors import problem_response

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

access_log = structlog.get_logger("worktime.access")

# Path segments that are credentials (a calendar feed's or a shared report's secret URL token): never logged.
_SECRET_SEGMENT = re.compile(r"/(wtcal_|wtrep_)[^/]*")


def redact_path(path: str | None) -> str | None:
    return _SECRET_SEGMENT.sub(r"/\1…", path) if path else path


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


def _logger_factory(*args: Any) -> _StdoutLogger:
    return _StdoutLogger(str(args[0]) if args else "worktime")


def configure_logging(*, level: str = "INFO", json: bool = False) -> None:
    """Our own log lines (the access line on every request among them) go through structlog alone:
    no stdlib LogRecord, handler or formatter on the hot path. Library loggers (uvicorn, sqlalchemy,
    dramatiq) go through the stdlib and are rendered by the same processors."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
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


def new_request_id() -> str:
    return os.urandom(16).hex()


class RequestContextMiddleware:
    """Assigns the request id, binds log context, writes the access line, and turns any escaped
    exception into a problem+json 500 (so even that response carries the request id)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        incoming = _header(scope, REQUEST_ID_HEADER)
        request_id = incoming if incoming and _VALID_REQUEST_ID.match(incoming) else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)

        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled_exception")
            if response_started:
                raise
            response = problem_response(
                500,
                type_slug="internal-error",
                title="Internal server error",
                detail="An unexpected error occurred; quote the request id when reporting it.",
                instance=scope.get("path"),
                request_id=request_id,
            )
            await response(scope, receive, send_with_id)
        finally:
            context = structlog.contextvars.get_contextvars()
            access_log.info(
                "request",
                method=scope.get("method"),
                path=redact_path(scope.get("path")),
                status=status,
                latency_ms=round((time.perf_counter() - started) * 1000, 2),
                user_id=context.get("user_id"),
                org_id=context.get("org_id"),
            )
            structlog.contextvars.clear_contextvars()


def _header(scope: Scope, name: str) -> str | None:
    target = name.encode()
    for key, value in scope.get("headers", []):
        if key.lower() == target:
            decoded: str = value.decode("latin-1")
            return decoded
    return None
