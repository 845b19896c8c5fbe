"""Conditional requests: strong ETags of a representation and ``If-Match`` for lost-update protection.

A GET sets ``ETag`` to :func:`entity_tag` of what it returns. A PATCH takes the ``If-Match`` header
(:data:`IfMatch`), loads the row under its lock, and calls :func:`require_match` with the tag of the
row's *current* representation before changing anything, so a stale tag is a 412 and the check cannot
race with another writer. Without ``If-Match`` the request is unconditional, as before.

Adopt it on another resource (time entries, tasks) in three lines: ``if_match: IfMatch`` on the route,
``require_match(if_match, entity_tag(current))`` after the locked load, ``set_etag(response, result)``.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Header, Response
from pydantic import BaseModel

from backend.core.errors import ProblemError


class PreconditionFailed(ProblemError):
    status = 412
    type_slug = "precondition-failed"
    title = "Precondition failed"


IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The `ETag` you read; the change is refused with 412 if the resource changed since.",
    ),
]


def entity_tag(representation: BaseModel) -> str:
    """A strong ETag: a digest of the representation's JSON (it changes whenever the JSON does)."""
    digest = hashlib.sha256(representation.model_dump_json().encode()).hexdigest()[:32]
    return f'"{digest}"'


def set_etag(response: Response, representation: BaseModel) -> None:
    response.headers["ETag"] = entity_tag(representation)


def require_match(if_match: str | None, current: str) -> None:
    """412 unless ``If-Match`` is absent, ``*`` or lists ``current`` (strong comparison)."""
    if if_match is None:
        return
    candidates = [candidate.strip() for candidate in if_match.split(",")]
    if "*" in candidates or current in candidates:
        return
    raise PreconditionFailed(
        "The resource changed since you read it; read it again and reapply your change.",
        headers={"ETag": current},
    )
