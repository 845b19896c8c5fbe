"""The import job: parse the export, then land its rows in chunks, each chunk in its own transaction so
the progress (rows done / total) is visible over the API while it runs."""

from __future__ import annotations

import uuid

import structlog

from backend.core import jobs
from backend.core.errors import ProblemError
from backend.core.models import utcnow
from backend.core.worker import worker_database
from backend.tracking import access, importer, imports
from backend.tracking.models import TimeImport

log = structlog.get_logger(__name__)
CHUNK = 100


class _DryRun(Exception):
    """Raised inside a row's savepoint to undo a dry run's row after it was fully checked."""


@jobs.actor(max_retries=0, time_limit=3_600_000)
async def run_import(org_id: str, import_id: str) -> None:
    org, import_key = uuid.UUID(org_id), uuid.UUID(import_id)
    db = worker_database()
    async with db.unit_of_work(org_id=org) as session:
        job = await session.get(TimeImport, (org, import_key), with_for_update=True)
        if job is None or job.status != "queued":
            log.warning("import_not_queued", import_id=import_id)
            return
        user_id, source, content = job.created_by, job.source, job.content
        dry_run, may_create = job.dry_run, job.may_create_projects
        rows, fatal = importer.parse(source, content)
        job.status, job.total_rows = "running", len(rows)
        if fatal:
            job.status, job.errors, job.finished_at = "failed", [{"line": 1, "reason": fatal}], utcnow()
            return
    imported = duplicates = done = 0
    created: list[str] = []
    errors: list[dict[str, object]] = []
    for start in range(0, len(rows), CHUNK):
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
    async with db.unit_of_work(org_id=org, user_id=user_id) as session:
        job = await session.get(TimeImport, (org, import_key), with_for_update=True)
        assert job is not None
        job.done_rows, job.imported_rows, job.duplicate_rows = done, imported, duplicates
        job.errors, job.created_projects = list(errors), list(created)
        job.status, job.finished_at = ("done" if done == len(rows) else "failed"), utcnow()
    log.info("import_finished", import_id=import_id, imported=imported, duplicates=duplicates, errors=len(errors))
