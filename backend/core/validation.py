"""Reusable input types that keep hostile input out of the database and out of 500s.

``SafeText`` (and :func:`text` to build constrained variants) refuses characters Postgres or our logs
cannot take: NUL (Postgres rejects it in ``text``, which used to surface as a 500), the other C0 control
characters, DEL, and lone UTF-16 surrogates (which cannot be encoded to UTF-8). Multi-line text may
contain tab, line feed and carriage return; single-line text may not. The check runs on the raw value,
before any whitespace stripping, and a failure is a 422 whose ``location`` names the field.

Constrain it further by nesting ``Annotated`` (the check still runs first, on the raw value)::

    Name = Annotated[SafeText, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    Body = Annotated[SafeMultilineText, StringConstraints(max_length=10_000)]

``CanonicalUUID`` accepts only the 36-character hyphenated spelling (``8-4-4-4-12`` hex digits, either
case). Pydantic's plain ``uuid.UUID`` also takes 32 bare hex digits, braces and ``urn:uuid:``, so one
resource would have several URLs; path parameters use this type instead.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from pydantic import BeforeValidator

# C0 controls (U+0000-U+001F), DEL (U+007F) and lone surrogates (U+D800-U+DFFF).
_SINGLE_LINE_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
# The same, minus tab (U+0009), line feed (U+000A) and carriage return (U+000D).
_MULTI_LINE_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

_CANONICAL_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _describe(char: str) -> str:
    return f"U+{ord(char):04X}"


def _check_single_line(value: Any) -> Any:
    if isinstance(value, str) and (found := _SINGLE_LINE_FORBIDDEN.search(value)):
        raise ValueError(f"control characters are not allowed (found {_describe(found.group())})")
    return value


def _check_multi_line(value: Any) -> Any:
    if isinstance(value, str) and (found := _MULTI_LINE_FORBIDDEN.search(value)):
        raise ValueError(
            f"control characters other than tab and line breaks are not allowed (found {_describe(found.group())})"
        )
    return value


SafeText = Annotated[str, BeforeValidator(_check_single_line)]
"""Single-line text: no C0 control characters (not even tab or line breaks), no DEL, no lone surrogates."""

SafeMultilineText = Annotated[str, BeforeValidator(_check_multi_line)]
"""Multi-line text: like :data:`SafeText`, but tab, LF and CR are allowed."""


def _check_canonical_uuid(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str) and _CANONICAL_UUID.match(value):
        return value
    raise ValueError("must be a UUID in its canonical form: 8-4-4-4-12 hexadecimal digits with hyphens")


CanonicalUUID = Annotated[uuid.UUID, BeforeValidator(_check_canonical_uuid)]
"""A UUID spelled ``xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`` (hex digits of either case); the value is a
``uuid.UUID``. Use it for path parameters: ``org_id: CanonicalUUID``."""
