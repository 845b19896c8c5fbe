"""Pure ASGI middleware at the HTTP edge: request body limits, the missing-token gate, the security headers
(added by backend/core/edge.py), Location on 201.

They run before FastAPI parses anything, so a hostile client cannot make the API buffer a huge body, and
an anonymous one cannot make it read a body at all. Each answers with the same problem+json documents as
the application's own error handlers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.core import metrics
from backend.core.errors import NotAuthenticated, problem_response
from backend.core.websession import COOKIE as SESSION_COOKIE

API_PREFIX = "/api/v1/"
DOCS_PREFIX = "/api/docs"
# Signed download links carry their own proof (an HMAC checked by the exports router, or the organization
# router for an offboarding export) instead of a token.
SIGNED_LINK = re.compile(r"^/api/v1/orgs/[^/]+/(?:offboarding/)?exports/[^/]+/download$")


def _signed_link(scope: Scope) -> bool:
    return (
        scope.get("method") == "GET"
        and b"sig=" in scope.get("query_string", b"")
        and bool(SIGNED_LINK.match(scope["path"]))
    )


def header(scope: Scope, name: bytes) -> bytes | None:
    """A request header by its lower-case name (ASGI servers hand header names over lower-cased)."""
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value)
    return None


def _request_id(scope: Scope) -> str | None:
    value = scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


class BodyLimitMiddleware:
    """Refuses ``/api/v1`` requests without an ``Authorization`` header before their body is read (401,
    exactly the app's missing-token problem), and bounds every request body: a declared
    ``Content-Length`` above the limit is refused at once, and a streamed body is counted as it arrives
    and refused (413) as soon as it passes the limit. Paths matching ``upload_pattern`` get the larger
    ``max_upload_bytes``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_upload_bytes: int,
        upload_pattern: str | None = None,
        public_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.public_paths = public_paths  # API paths (ending in /: prefixes) whose caller has no bearer token
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.upload_pattern = re.compile(upload_pattern) if upload_pattern else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if (
            path.startswith(API_PREFIX)
            and path not in self.public_paths
            and not any(path.startswith(p) for p in self.public_paths if p.endswith("/"))
            and header(scope, b"authorization") is None
            and not _has_session_cookie(scope)
            and not _signed_link(scope)
            and _is_routed(scope)
        ):
            await _missing_token(scope, receive, send)
            return

        limit = (
            self.max_upload_bytes if self.upload_pattern and self.upload_pattern.match(path) else self.max_body_bytes
        )
        declared = header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await _too_large(scope, receive, send, limit)
            return

        if scope.get("http_version") in _LENGTH_FRAMED and header(scope, b"transfer-encoding") is None:
            # HTTP/1 without chunking: the body is Content-Length bytes (checked above) or none, and the
            # server hands over no more, so there is nothing to count. Chunked bodies (and HTTP/2) are.
            await self.app(scope, receive, send)
            return

        received = 0
        response_started = False
        refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not response_started:
                        await _too_large(scope, receive, send, limit)
                    # The app sees a client that went away and stops reading; its answer is dropped.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if refused:
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        await self.app(scope, counting_receive, guarded_send)


_LENGTH_FRAMED = frozenset({"1.0", "1.1"})


def _has_session_cookie(scope: Scope) -> bool:
    """The web app's session cookie stands in for the header (the app verifies it like a token)."""
    cookie = header(scope, b"cookie")
    return cookie is not None and SESSION_COOKIE.encode() + b"=" in cookie


def _is_routed(scope: Scope) -> bool:
    """Does a route serve this path (with any method)? Unknown paths keep their 404 for everybody."""
    app = scope.get("app")
    routes = getattr(getattr(app, "router", None), "routes", ())
    return any(route.matches(scope)[0] is not Match.NONE for route in routes)


async def _missing_token(scope: Scope, receive: Receive, send: Send) -> None:
    problem = NotAuthenticated("This endpoint needs a bearer access token.", error=None, reason="missing")
    metrics.auth_failed(problem.reason)  # answered here, before routing: the error handler never sees it
    response = problem_response(
        problem.status,
        type_slug=problem.type_slug,
        title=problem.title,
        detail=problem.detail,
        instance=scope["path"],
        headers=problem.headers,
        request_id=_request_id(scope),
    )
    await response(scope, receive, send)


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = problem_response(
        413,
        type_slug="content-too-large",
        title="Content too large",
        detail=f"The request body exceeds {limit} bytes.",
        instance=scope["path"],
        headers={"Connection": "close"},
        request_id=_request_id(scope),
        max_bytes=limit,
    )
    await response(scope, receive, send)


# --------------------------------------------------------------------------- security headers

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
API_PATHS = ("/api/", "/health", "/livez", "/readyz")
# The web app (backend/web): its own scripts and styles only, no inline script; forms may post to
# itself and follow the sign-out redirect to Keycloak.
WEB_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
HSTS = "max-age=63072000; includeSubDomains"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)
#: Swagger UI's vendored assets (backend/core/docs_ui.py): served as plain files with the API's headers.
DOCS_STATIC_PREFIX = "/api/docs/static/"


class SecurityHeaders:
    """``X-Content-Type-Options``, ``Referrer-Policy``, ``X-Frame-Options``, a ``Content-Security-Policy``
    and, in production, ``Strict-Transport-Security``, as header lists built once (the edge middleware
    adds one of them to every response).

    API responses get a CSP that allows nothing. The Swagger UI pages under ``/api/docs`` get one that
    allows the API's own origin only (the assets are vendored, no CDN) plus Keycloak's token endpoint,
    and their inline scripts by hash (computed from the page itself, so no ``'unsafe-inline'`` for scripts)."""

    def __init__(self, *, hsts: bool, connect_origins: Iterable[str] = ()) -> None:
        self.hsts = hsts
        self.connect_origins = sorted({_origin(url) for url in connect_origins if _origin(url)})
        web_csp = "; ".join([WEB_CSP, " ".join(["form-action 'self'", *self.connect_origins])])
        self.api = [*self._common(), (b"content-security-policy", API_CSP.encode())]
        self.web = [*self._common(), (b"content-security-policy", web_csp.encode())]
        self.names = frozenset(name for name, _ in self.api + self.web)

    def for_path(self, path: str) -> list[tuple[bytes, bytes]] | None:
        """The headers for ``path``; ``None`` for a docs page, whose CSP is computed from its body."""
        if path.startswith(DOCS_PREFIX) and not path.startswith(DOCS_STATIC_PREFIX):
            return None
        return self.api if path.startswith(API_PATHS) else self.web

    def _common(self) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]
        if self.hsts:
            headers.append((b"strict-transport-security", HSTS.encode()))
        return headers

    def docs_csp(self, body: bytes) -> str:
        hashes = " ".join(
            f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
            for script in _INLINE_SCRIPT.findall(body)
        )
        return "; ".join(
            [
                "default-src 'none'",
                f"script-src 'self' {hashes}".strip(),
                "style-src 'self' 'unsafe-inline'",  # Swagger UI sets style attributes
                "img-src 'self' data:",
                " ".join(["connect-src 'self'", *self.connect_origins]),
                "frame-ancestors 'none'",
                "base-uri 'none'",
                "form-action 'self'",
            ]
        )

    def docs_send(self, send: Send) -> Send:
        """The docs pages are small: hold the response until its body is complete, then hash its scripts."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def buffering_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            csp = self.docs_csp(body)
            await send(with_headers(start, [*self._common(), (b"content-security-policy", csp.encode())]))
            await send({"type": "http.response.body", "body": body})

        return buffering_send


def with_headers(message: Message, extra: list[tuple[bytes, bytes]]) -> Message:
    headers = list(message.get("headers", []))
    present = {key.lower() for key, _ in headers}
    headers += [(key, value) for key, value in extra if key not in present]
    return {**message, "headers": headers}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


# --------------------------------------------------------------------------- Location on 201/202


class LocationMiddleware:
    """Adds ``Location`` to a ``201 Created`` (or ``202 Accepted``) answer to a POST under ``/api/v1``
    that names the new resource by ``id``: the request path plus ``/{id}``, when a GET route serves that
    URL. An endpoint that sets ``Location`` itself keeps its own. Only these (small) answers are held
    until complete; everything else streams through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def locating_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                if message["status"] in (201, 202) and not any(
                    key.lower() == b"location" for key, _ in message.get("headers", [])
                ):
                    start = message
                    return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            location = _location(scope, body)
            headers = [(b"location", location.encode())] if location else []
            await send(with_headers(start, headers))
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, locating_send)


def _location(scope: Scope, body: bytes) -> str | None:
    try:
        created = json.loads(body)
    except ValueError:
        return None
    resource_id = created.get("id") if isinstance(created, dict) else None
    if not isinstance(resource_id, str | int) or not str(resource_id):
        return None
    path = f"{scope['path'].rstrip('/')}/{resource_id}"
    probe = {**scope, "method": "GET", "path": path}
    app = scope.get("app")
    routes = getattr(getattr(app, "router", None), "routes", ())
    if any(route.matches(probe)[0] is Match.FULL for route in routes):
        return f"{scope.get('root_path', '')}{path}"
    return None
