"""Secrets at rest (webhook signing secrets, connector secrets): Fernet tokens under a key ring.

``secret_keys`` lists Fernet keys, newest first. :func:`seal` encrypts with the newest; :func:`open_sealed`
tries each in turn, so adding a key in front keeps every stored secret readable, and
``python -m backend keys rotate`` re-encrypts them all under it (after which the old key can go).
Fernet is authenticated encryption (AES-128-CBC + HMAC-SHA256): a tampered column fails to open.
Plaintexts never reach a log line or an API answer; callers keep them in local variables only.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import text

from backend.settings import get_settings


class SecretUnreadable(Exception):
    """No configured key opens this secret (a key was dropped before `keys rotate` ran)."""


@lru_cache(maxsize=4)
def _ring(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ValueError("WORKTIME_SECRET_KEYS is empty: at least one Fernet key is needed")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def ring(keys: list[str] | None = None) -> MultiFernet:
    return _ring(tuple(keys if keys is not None else get_settings().secret_keys))


def seal(plaintext: str, keys: list[str] | None = None) -> bytes:
    return ring(keys).encrypt(plaintext.encode())


def open_sealed(token: bytes, keys: list[str] | None = None) -> str:
    try:
        return ring(keys).decrypt(bytes(token)).decode()
    except InvalidToken:
        raise SecretUnreadable("no configured secret key opens this value") from None


def reseal(token: bytes, keys: list[str] | None = None) -> bytes:
    """The same secret under the newest key (MultiFernet.rotate)."""
    try:
        return ring(keys).rotate(bytes(token))
    except InvalidToken:
        raise SecretUnreadable("no configured secret key opens this value") from None


def new_key() -> str:
    return Fernet.generate_key().decode()


async def reseal_column(connection: Any, table: str, column: str, keys: list[str] | None = None) -> int:
    """Re-encrypt every value of ``table.column`` under the newest key; returns how many were.

    Runs as the owner role: its maintenance policy reads every tenant's rows, and each UPDATE binds the
    row's own organization first (the tenant policy applies to the owner too). ``table`` and ``column``
    are the callers' constants, never input."""
    rows = (
        await connection.execute(text(f"SELECT org_id, id, {column} FROM {table} WHERE {column} IS NOT NULL"))
    ).all()
    for org_id, row_id, sealed in rows:
        await connection.execute(text("SELECT set_config('app.org_id', :org, true)"), {"org": str(org_id)})
        await connection.execute(
            text(f"UPDATE {table} SET {column} = :value WHERE org_id = :org AND id = :id"),
            {"value": reseal(sealed, keys), "org": org_id, "id": row_id},
        )
    return len(rows)
