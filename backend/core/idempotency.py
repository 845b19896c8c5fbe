"""``Idempotency-Key`` on POSTs: a retried create returns the first answer and creates nothing twice.

A client that sends ``Idempotency-Key: <its own unique value>`` on a POST under ``/api/v1`` gets this:

- The first request runs. Its answer, when it succeeded (2xx), is stored in Redis for ``ttl_seconds``
  under (caller, method, path, key) — the path names the organization — with a fingerprint of the body.
- A retry with the same key and the same body gets the stored answer (status, body, ``Location``,
  ``ETag``) with ``Idempotent-Replayed: true``, and the endpoint does not run again.
- The same key with a different body is a 422 (``idempotency-key-reused``); a retry while the first
  request is still running is a 409 with ``Retry-After``.
- A failed first request (4xx/5xx) stores nothing: nothing was created, so a retry runs again.

The caller is the verified token's subject (the same person across token refreshes), or for tokens
that are not Keycloak's (personal API tokens), a digest of the token. A request whose token does not
verify passes straight through to the app, which answers 401. Without Redis the key cannot be honoured,
so such a request is a 503 rather than a silent double create.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.core.errors import ProblemError, problem_response

log = structlog.get_logger(__name__)

API_PREFIX = "/api/v1/"
HEADER = b"idempotency-key"
_KEY_SHAPE = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, like a UUID or a ULID
_REPLAYED_HEADERS = (b"content-type", b"location", b"etag")
_MAX_STORED_BODY = 256 * 1024


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value)
    return None


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, *, ttl_seconds: int = 24 * 3600, lock_seconds: int = 60) -> None:
        self.app = app
        self.ttl = ttl_seconds
        self.lock = lock_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        raw_key = _header(scope, HEADER)
        if raw_key is None:
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1").strip()
        if not _KEY_SHAPE.match(key):
            await _problem(
                scope,
                receive,
                send,
                422,
                "idempotency-key-invalid",
                "The idempotency key is not valid",
                "Idempotency-Key must be 1 to 255 visible ASCII characters.",
            )
            return
        caller = await _caller(scope)
        if caller is None:  # no or bad token: the app answers 401
            await self.app(scope, receive, send)
            return

        body, more = await _read_body(receive)
        if more is not None:  # the client went away mid-body
            return
        content_type = _header(scope, b"content-type") or b""
        fingerprint = hashlib.sha256(content_type + b"\n" + body).hexdigest()
        digest = hashlib.sha256(f"{caller}\n{scope['method']}\n{scope['path']}\n{key}".encode()).hexdigest()
        redis_key = f"worktime:idempotency:{digest}"
        redis: Redis = scope["app"].state.redis
        try:
            claimed = await redis.set(
                redis_key, json.dumps({"state": "running", "fingerprint": fingerprint}), nx=True, ex=self.lock
            )
            stored = None if claimed else await redis.get(redis_key)
        except RedisError:
            log.warning("idempotency_unavailable")
            await _problem(
                scope,
                receive,
                send,
                503,
                "dependency-unavailable",
                "A service the platform depends on is unavailable",
                "Idempotency keys cannot be honoured right now; retry shortly.",
                retry_after="5",
            )
            return
        if not claimed:
            await self._answer_stored(scope, receive, send, stored, fingerprint)
            return

        start: Message | None = None
        chunks: list[bytes] = []
        replayed = False

        async def replaying_receive() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def recording_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        stored_ok = False
        try:
            await self.app(scope, replaying_receive, recording_send)
            response_body = b"".join(chunks)
            if start is not None and 200 <= start["status"] < 300 and len(response_body) <= _MAX_STORED_BODY:
                record = {
                    "state": "done",
                    "fingerprint": fingerprint,
                    "status": start["status"],
                    "headers": [
                        [k.decode("latin-1"), v.decode("latin-1")]
                        for k, v in start.get("headers", [])
                        if k.lower() in _REPLAYED_HEADERS
                    ],
                    "body": response_body.decode("utf-8", "replace"),
                }
                await redis.set(redis_key, json.dumps(record), ex=self.ttl)
                stored_ok = True
        finally:
            if not stored_ok:
                try:
                    await redis.delete(redis_key)
                except RedisError:
                    log.warning("idempotency_release_failed")

    async def _answer_stored(self, scope: Scope, receive: Receive, send: Send, stored: Any, fingerprint: str) -> None:
        if stored is None:  # expired between our SET and GET: tell the client to retry
            record: dict[str, Any] = {"state": "running", "fingerprint": fingerprint}
        else:
            record = json.loads(stored)
        if record.get("fingerprint") != fingerprint:
            await _problem(
                scope,
                receive,
                send,
                422,
                "idempotency-key-reused",
                "The idempotency key was used for another request",
                "This Idempotency-Key was sent with a different body; use a new key.",
            )
            return
        if record.get("state") != "done":
            await _problem(
                scope,
                receive,
                send,
                409,
                "idempotency-key-in-use",
                "The idempotent request is still running",
                "A request with this Idempotency-Key is still being processed.",
                retry_after="1",
            )
            return
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in record["headers"]]
        headers.append((b"idempotent-replayed", b"true"))
        body = str(record["body"]).encode()
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": int(record["status"]), "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _caller(scope: Scope) -> str | None:
    authorization = _header(scope, b"authorization")
    if authorization is None:
        return None
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    if token.count(".") != 2:  # not a JWT (a personal API token): the token itself is the caller
        return "token:" + hashlib.sha256(token.encode()).hexdigest()
    try:
        principal = await scope["app"].state.verifier.verify(token)
    except ProblemError:
        return None
    return f"user:{principal.subject}"


async def _read_body(receive: Receive) -> tuple[bytes, Message | None]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), None


async def _problem(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    retry_after: str | None = None,
) -> None:
    request_id = scope.get("state", {}).get("request_id")
    response = problem_response(
        status,
        type_slug=slug,
        title=title,
        detail=detail,
        instance=scope["path"],
        headers={"Retry-After": retry_after} if retry_after else None,
        request_id=request_id,
    )
    await response(scope, receive, send)
