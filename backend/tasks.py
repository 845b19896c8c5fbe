"""Every actor, imported once so a worker (``backend worker``) registers them all."""

import backend.models  # noqa: F401  (the whole schema, so relationships between tables resolve)
from backend.diagnostics import tasks as diagnostics_tasks

__all__ = ["diagnostics_tasks"]
