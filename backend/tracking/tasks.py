"""The import job: parse the export, then land its rows in chunks, each chunk in its own transaction so
the progress (rows done / total) is visible over the API while it runs.

Each chunk commits with the job's counters, so a run that dies (a worker killed mid-import) leaves the
job ``running`` with exactly the rows it landed counted. The broker delivers the job again once the
dead worker's heartbeat times out, and the new run resumes after the last committed chunk. A run holds
an advisory lock for its whole length, so a second delivery while the first still runs does nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from sqlalchemy import text

from backend.core import jobs
from backend.core.db import Database
from backend.core.errors import ProblemError
from backend.core.models import utcnow
from backend.core.worker import worker_database
from backend.settings import get_settings
from backend.tracking import access, importer, imports
from backend.tracking.models import TimeImport

log = structlog.get_logger(__name__)
CHUNK = 100


class _DryRun(Exception):
    """Raised inside a row's savepoint to undo a dry run's row after it was fully checked."""


@asynccontextmanager
async def _one_run_at_a_time(db: Database, import_key: uuid.UUID) -> AsyncIterator[bool]:
    """Yields whether this run may go on: a transaction-scoped advisory lock on a connection of its own,
    held for the whole run (transaction-scoped, so it holds behind PgBouncer's transaction pooling too).
    Postgres releases it when a killed worker's connection drops."""
    async with db.engine.connect() as connection, connection.begin():
        claimed = await connection.scalar(
            text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"time-import:{import_key}"}
        )
        yield bool(claimed)


@jobs.actor(max_retries=0, time_limit=3_600_000)
async def run_import(org_id: str, import_id: str) -> None:
    db = worker_database()
    async with _one_run_at_a_time(db, uuid.UUID(import_id)) as claimed:
        if not claimed:
            log.warning("import_already_running", import_id=import_id)
            return
        await _run(db, uuid.UUID(org_id), uuid.UUID(import_id))


async def _run(db: Database, org: uuid.UUID, import_key: uuid.UUID) -> None:
    import_id = str(import_key)
    pause = get_settings().import_test_delay_ms / 1000
    async with db.unit_of_work(org_id=org) as session:
        job = await session.get(TimeImport, (org, import_key), with_for_update=True)
        if job is None or job.status not in {"queued", "running"}:
            log.warning("import_not_queued", import_id=import_id)
            return
        user_id, source, content = job.created_by, job.source, job.content
        dry_run, may_create = job.dry_run, job.may_create_projects
        rows, fatal = importer.parse(source, content)
        # A job found running is the delivery again of a run that died: resume after its last chunk.
        resumed = job.status == "running"
        imported, duplicates, done = (job.imported_rows, job.duplicate_rows, job.done_rows) if resumed else (0, 0, 0)
        created: list[str] = list(job.created_projects) if resumed else []
        errors: list[dict[str, object]] = list(job.errors) if resumed else []
        if resumed:
            log.warning("import_resumed", import_id=import_id, done_rows=done, total_rows=len(rows))
        job.status, job.total_rows = "running", len(rows)
        if fatal:
            job.status, job.errors, job.finished_at = "failed", [{"line": 1, "reason": fatal}], utcnow()
            return
    for start in range(done, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        async with db.unit_of_work(org_id=org, user_id=user_id) as session:
            try:
                ctx = await access.worker_context(session, org, user_id)
            except ProblemError as exc:
                errors.append({"line": None, "reason": exc.detail})
                break
            for row in chunk:
                if isinstance(row, importer.RowError):
                    errors.append({"line": row.line, "reason": row.reason})
                    continue
                try:
                    async with session.begin_nested():
                        outcome, new_project = await imports.import_row(ctx, row, may_create_projects=may_create)
                        if outcome == "duplicate":
                            duplicates += 1
                        else:
                            imported += 1
                        if new_project and new_project not in created:
                            created.append(new_project)
                        if dry_run:
                            raise _DryRun
                except _DryRun:
                    pass
                except ProblemError as exc:
                    errors.append({"line": row.line, "reason": exc.detail or exc.title})
            done += len(chunk)
            job = await session.get(TimeImport, (org, import_key), with_for_update=True)
            assert job is not None
            job.done_rows, job.imported_rows, job.duplicate_rows = done, imported, duplicates
            job.errors, job.created_projects = list(errors), list(created)
        if pause:
            await asyncio.sleep(pause)
    async with db.unit_of_work(org_id=org, user_id=user_id) as session:
        job = await session.get(TimeImport, (org, import_key), with_for_update=True)
        assert job is not None
        job.done_rows, job.imported_rows, job.duplicate_rows = done, imported, duplicates
        job.errors, job.created_projects = list(errors), list(created)
        job.status, job.finished_at = ("done" if done == len(rows) else "failed"), utcnow()
    log.info("import_finished", import_id=import_id, imported=imported, duplicates=duplicates, errors=len(errors))
