"""Domain errors and their RFC 9457 ``application/problem+json`` rendering.

Services raise :class:`ProblemError` subclasses; one set of handlers turns them, validation errors and
anything unexpected into problem documents. A 500 never carries exception text, SQL or a stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, ClassVar

import asyncpg
import sqlalchemy.exc
import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://worktime.dev/problems/"

log = structlog.get_logger(__name__)


class ProblemError(Exception):
    """An error a client can act on. Subclasses fix the status and the problem type."""

    status: ClassVar[int] = 400
    type_slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


class NotAuthenticated(ProblemError):
    status = 401
    type_slug = "not-authenticated"
    title = "Authentication required"

    def __init__(self, detail: str | None = None, *, error: str | None = "invalid_token") -> None:
        challenge = f'Bearer error="{error}"' if error else "Bearer"
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class Forbidden(ProblemError):
    status = 403
    type_slug = "forbidden"
    title = "Forbidden"


class NotFound(ProblemError):
    status = 404
    type_slug = "not-found"
    title = "Not found"


class Conflict(ProblemError):
    status = 409
    type_slug = "conflict"
    title = "Conflict"


class UnprocessableContent(ProblemError):
    status = 422
    type_slug = "validation-error"
    title = "The request is not valid"


class DependencyUnavailable(ProblemError):
    status = 503
    type_slug = "dependency-unavailable"
    title = "A service the platform depends on is unavailable"


def problem_response(
    status: int,
    *,
    type_slug: str,
    title: str,
    detail: str | None = None,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_BASE + type_slug, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(
        jsonable_encoder(body), status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {})
    )


def _request_id(request: Request) -> str | None:
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else None


async def _handle_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        exc.status,
        type_slug=exc.type_slug,
        title=exc.title,
        detail=exc.detail,
        instance=request.url.path,
        headers=exc.headers,
        request_id=_request_id(request),
        **exc.extra,
    )


async def _handle_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"location": list(error.get("loc", ())), "message": error.get("msg", ""), "type": error.get("type")}
        for error in exc.errors()
    ]
    return problem_response(
        422,
        type_slug=UnprocessableContent.type_slug,
        title=UnprocessableContent.title,
        detail=f"{len(errors)} field(s) failed validation",
        instance=request.url.path,
        errors=errors,
        request_id=_request_id(request),
    )


async def _handle_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
    return problem_response(
        status,
        type_slug=phrase.lower().replace(" ", "-"),
        title=phrase,
        detail=detail,
        instance=request.url.path,
        headers=getattr(exc, "headers", None),
        request_id=_request_id(request),
    )


# Postgres SQLSTATEs that say "no usable connection", not "your query is wrong": class 08 (connection
# exception) is matched by prefix; 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now
# ("the database system is starting up"), 57P05 idle_session_timeout, 53300 too_many_connections.
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "57P05", "53300"})
# Errors that mean the connection or the pool, whatever the driver said. SQLAlchemy's asyncpg adapter
# maps Postgres' own errors (such as 57P03) to a plain DBAPIError, so the SQLSTATE decides for those.
_UNAVAILABLE_TYPES: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.TimeoutError,  # pool exhausted
    sqlalchemy.exc.DisconnectionError,
    asyncpg.PostgresConnectionError,  # class 08, including ConnectionDoesNotExistError
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,  # "connection is closed", "another operation is in progress"
    ConnectionError,
    TimeoutError,
)


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc``, the driver error SQLAlchemy wrapped (``.orig``) and their causes, each once."""
    found: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or any(current is seen for seen in found) or len(found) > 16:
            continue
        found.append(current)
        pending += [getattr(current, "orig", None), current.__cause__]
    return found


def is_database_unavailable(exc: BaseException) -> bool:
    """Does ``exc`` mean that Postgres cannot be reached or cannot serve us right now (a 503), rather
    than that a query is wrong (a bug, so a 500)? Query errors carry SQLSTATEs of other classes."""
    for cause in _causes(exc):
        if isinstance(cause, sqlalchemy.exc.DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(cause, _UNAVAILABLE_TYPES) and not _is_query_error(cause):
            return True
        sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
        if isinstance(sqlstate, str) and (sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES):
            return True
    return False


def _is_query_error(exc: BaseException) -> bool:
    # asyncpg's QueryCanceledError (57014, a statement timeout) is not a connection error; a SQLSTATE of
    # another class on an exception that also looks like a connection error decides against a 503.
    sqlstate = getattr(exc, "sqlstate", None)
    return (
        isinstance(sqlstate, str)
        and not sqlstate.startswith("08")
        and sqlstate not in _UNAVAILABLE_SQLSTATES
        and isinstance(exc, asyncpg.PostgresError)
    )


async def _handle_database_error(request: Request, exc: Exception) -> JSONResponse:
    if is_database_unavailable(exc):
        return await _handle_database_unavailable(request, exc)
    return await _handle_unexpected(request, exc)


async def _handle_database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    sqlstates = sorted({s for c in _causes(exc) if isinstance(s := getattr(c, "sqlstate", None), str)})
    log.error("database_unavailable", exc_type=type(exc).__name__, sqlstate=",".join(sqlstates) or None)
    return problem_response(
        503,
        type_slug=DependencyUnavailable.type_slug,
        title=DependencyUnavailable.title,
        detail="The database is unavailable; retry shortly.",
        instance=request.url.path,
        headers={"Retry-After": "5"},
        dependency="postgres",
        request_id=_request_id(request),
    )


async def _handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_exception", exc_type=type(exc).__name__)
    return problem_response(
        500,
        type_slug="internal-error",
        title="Internal server error",
        detail="An unexpected error occurred; quote the request id when reporting it.",
        instance=request.url.path,
        request_id=_request_id(request),
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _handle_problem)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(StarletteHTTPException, _handle_http)
    # Lost or refused database connections and pool exhaustion become 503s; query errors are bugs and
    # stay 500s (is_database_unavailable decides).
    for database_error in (
        sqlalchemy.exc.DBAPIError,
        sqlalchemy.exc.TimeoutError,
        sqlalchemy.exc.DisconnectionError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
    ):
        app.add_exception_handler(database_error, _handle_database_error)
    app.add_exception_handler(Exception, _handle_unexpected)
