"""Domain errors and their RFC 9457 ``application/problem+json`` rendering.

Services raise :class:`ProblemError` subclasses; one set of handlers turns them, validation errors and
anything unexpected into problem documents. A 500 never carries exception text, SQL or a stack trace.
"""

from __future__ import annotations

import errno
import re
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
from starlette.routing import Match

from backend.core import metrics

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

    def __init__(
        self, detail: str | None = None, *, error: str | None = "invalid_token", reason: str = "invalid"
    ) -> None:
        challenge = f'Bearer error="{error}"' if error else "Bearer"
        super().__init__(detail, headers={"WWW-Authenticate": challenge})
        self.reason = reason  # the metrics label (missing, malformed, invalid, expired, revoked)


class Forbidden(ProblemError):
    status = 403
    type_slug = "forbidden"
    title = "Forbidden"

    def __init__(self, detail: str | None = None, *, permission: str = "rule") -> None:
        super().__init__(detail)
        self.permission = permission  # the metrics label: the policy's permission, or "rule" for a service rule


class SecondFactorRequired(Forbidden):
    """The role allows it, but the organization requires its owners and admins to have signed in with a
    second factor, and this token does not show one. ``enroll`` says where to set one up."""

    type_slug = "second-factor-required"
    title = "A second factor is required"

    def __init__(self, detail: str, *, permission: str, enroll: Mapping[str, str]) -> None:
        super().__init__(detail, permission=permission)
        self.extra = {"permission": permission, "enroll": dict(enroll)}


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


class TooManyRequests(ProblemError):
    """A per-resource limit (e.g. one invitation email a minute); the rate limiter's own 429s share the type."""

    status = 429
    type_slug = "too-many-requests"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


class InsufficientStorage(ProblemError):
    status = 507
    type_slug = "insufficient-storage"
    title = "Not enough storage"


# A full disk (or a spent quota) is the server's condition, not a bug: a 507 the client can retry later.
_STORAGE_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


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
    if isinstance(exc, NotAuthenticated):
        metrics.auth_failed(exc.reason)
    elif isinstance(exc, Forbidden):
        metrics.authz_denied(exc.permission)
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


_JSON_MEDIA = re.compile(r"^application/(?:[\w.+-]+\+)?json$", re.IGNORECASE)
# Pydantic prefixes messages of errors raised in validators; clients need only the sentence.
_MESSAGE_PREFIXES = ("Value error, ", "Assertion failed, ")


def _media_type(request: Request) -> str | None:
    value = request.headers.get("content-type")
    return value.split(";", 1)[0].strip().lower() if value else None


def _clean_message(message: str) -> str:
    for prefix in _MESSAGE_PREFIXES:
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def _line_and_column(document: Any, position: int) -> tuple[int, int]:
    text = document.decode("utf-8", "replace") if isinstance(document, bytes | bytearray) else str(document or "")
    before = text[:position]
    line = before.count("\n") + 1
    return line, position - (before.rfind("\n") + 1) + 1


def _validation_error(error: Mapping[str, Any], body: Any) -> dict[str, Any]:
    location = list(error.get("loc", ()))
    if error.get("type") == "json_invalid" and len(location) == 2 and isinstance(location[1], int):
        line, column = _line_and_column(body, location[1])
        reason = (error.get("ctx") or {}).get("error") or "invalid JSON"
        return {
            "location": ["body"],
            "message": f"The body is not valid JSON: {reason} at line {line}, column {column}",
            "type": "json_invalid",
            "line": line,
            "column": column,
        }
    return {"location": location, "message": _clean_message(str(error.get("msg", ""))), "type": error.get("type")}


def _is_unsupported_media(request: Request, exc: RequestValidationError) -> bool:
    """A body was sent with a media type the route does not read (form data, or no type, to a JSON
    route): FastAPI hands the raw bytes to the model, which fails as a whole (location ``body``). That
    is a 415, not a 422. Form routes report their fields (``body``, name), so they never match."""
    media = _media_type(request)
    if media is not None and _JSON_MEDIA.match(media):
        return False
    return any(tuple(error.get("loc", ())) == ("body",) and error.get("type") != "missing" for error in exc.errors())


async def _handle_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if _is_unsupported_media(request, exc):
        return problem_response(
            415,
            type_slug="unsupported-media-type",
            title="Unsupported media type",
            detail="Send the body as JSON with 'Content-Type: application/json'.",
            instance=request.url.path,
            headers={"Accept": "application/json"},
            request_id=_request_id(request),
        )
    errors = [_validation_error(error, exc.body) for error in exc.errors()]
    return problem_response(
        422,
        type_slug=UnprocessableContent.type_slug,
        title=UnprocessableContent.title,
        detail=f"{len(errors)} field(s) failed validation",
        instance=request.url.path,
        errors=errors,
        request_id=_request_id(request),
    )


def sentence_case_phrase(status: int) -> str:
    """The HTTP reason phrase in the platform's title style: sentence case ("Method not allowed")."""
    if status not in HTTPStatus._value2member_map_:
        return "Error"
    phrase = HTTPStatus(status).phrase
    return phrase[:1] + phrase[1:].lower()


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """The methods some route serves at this request's path (for ``Allow`` on a 405)."""
    routes = getattr(getattr(request.app, "router", None), "routes", ())
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in routes):
            allowed.append(method)
    if "GET" in allowed and "HEAD" not in allowed:
        allowed.insert(1, "HEAD")
    return allowed


async def _handle_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    title = sentence_case_phrase(status)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail not in (phrase, title) else None
    headers = dict(getattr(exc, "headers", None) or {})
    if status == 405:
        allowed = allowed_methods(request)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
    return problem_response(
        status,
        type_slug=phrase.lower().replace(" ", "-"),
        title=title,
        detail=detail,
        instance=request.url.path,
        headers=headers,
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


# Data exceptions that only a value carried in from outside produces: a character the text type cannot
# hold (a NUL), text too long for its column, a date Postgres cannot represent. Division by zero or a
# computed overflow stay 500s: those are our bugs.
_UNSTORABLE = frozenset({"22021", "22P05", "22001", "22007", "22008"})


def is_unstorable_value(exc: BaseException) -> str | None:
    """The SQLSTATE when Postgres refused a value the request carried, which no field validator caught;
    else None."""
    for cause in _causes(exc):
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate in _UNSTORABLE:
            return sqlstate
    return None


# Postgres gave up on the transaction because another one touched the same rows at the same moment:
# 40P01 deadlock_detected, 40001 serialization_failure, 55P03 lock_not_available. Nothing was written,
# and the same request sent again normally succeeds.
_CONCURRENT = frozenset({"40P01", "40001", "55P03"})


def is_concurrent_change(exc: BaseException) -> str | None:
    for cause in _causes(exc):
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate in _CONCURRENT:
            return sqlstate
    return None


async def _handle_database_error(request: Request, exc: Exception) -> JSONResponse:
    if is_database_unavailable(exc):
        return await _handle_database_unavailable(request, exc)
    if (sqlstate := is_concurrent_change(exc)) is not None:
        log.warning("concurrent_change", sqlstate=sqlstate, exc_type=type(exc).__name__)
        return problem_response(
            409,
            type_slug="concurrent-change",
            title="Concurrent change",
            detail="Another change to the same records ran at the same moment; nothing was changed. Retry the request.",
            instance=request.url.path,
            headers={"Retry-After": "1"},
            sqlstate=sqlstate,
            request_id=_request_id(request),
        )
    if (sqlstate := is_unstorable_value(exc)) is not None:
        # The input's fault, not the server's: a 422, logged so the missing validator gets written.
        log.warning("unstorable_value", sqlstate=sqlstate, exc_type=type(exc).__name__)
        return problem_response(
            422,
            type_slug=UnprocessableContent.type_slug,
            title=UnprocessableContent.title,
            detail="A value in the request cannot be stored (out of range, or a character that is not allowed).",
            instance=request.url.path,
            sqlstate=sqlstate,
            request_id=_request_id(request),
        )
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


async def _handle_os_error(request: Request, exc: Exception) -> JSONResponse:
    if not (isinstance(exc, OSError) and exc.errno in _STORAGE_FULL):
        return await _handle_unexpected(request, exc)
    log.error("storage_full", error=str(exc))
    return problem_response(
        InsufficientStorage.status,
        type_slug=InsufficientStorage.type_slug,
        title=InsufficientStorage.title,
        detail="The server's storage is full, so nothing was stored. Try again later; the operators are told.",
        instance=request.url.path,
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
    app.add_exception_handler(OSError, _handle_os_error)
    app.add_exception_handler(Exception, _handle_unexpected)
