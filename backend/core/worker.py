"""Process-wide resources for dramatiq workers (the API keeps its own on app.state)."""

from __future__ import annotations

from functools import lru_cache

from backend.core.db import Database
from backend.settings import get_settings


@lru_cache(maxsize=1)
def worker_database() -> Database:
    # Created lazily inside the worker's event-loop thread, which owns the connections.
    return Database(get_settings(), pool_size=4)
