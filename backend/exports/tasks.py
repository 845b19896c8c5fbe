"""The export job, and the sweep that expires old files and re-sends stalled exports.

Reliability: the job takes a transaction-scoped advisory lock on the export (a second delivery while one
runs does nothing), writes to a temporary file named after the export and the process, fsyncs it and
renames it into place atomically, then marks the row done. A worker killed mid-way leaves the row
``running`` with an old heartbeat and a temporary file; the retry (``export sweep`` re-sends it) removes
the leftovers and writes the whole file again, so exactly one complete file results. A finished export
is never made twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core import audit, hooks, jobs
from backend.core.errors import ProblemError
from backend.core.models import utcnow
from backend.core.worker import worker_database
from backend.exports import pdf, service, signing, xlsx
from backend.exports.models import Export
from backend.orgs import service as orgs
from backend.reports import service as reports
from backend.settings import get_settings
from backend.tenancy.context import OrgContext
from backend.tracking import service as tracking

log = structlog.get_logger(__name__)
EXPORT_WORK_MEM = "64MB"
PROGRESS_EVERY_SECONDS = 0.5
#: The job sent when an export is done (declared by the reminders domain, which mails scheduled exports).
COMPLETED_FOLLOW_UP = "mail_scheduled_export"
_NAMED = re.compile(r"(?<![:\w]):([a-z_]+)\b")


def positional(sql: str, params: dict[str, Any]) -> tuple[str, list[Any]]:
    """``:name`` parameters to asyncpg's ``$n`` (``::casts`` and upper-case format codes are left alone)."""
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}"

    return _NAMED.sub(number, sql), [params[name] for name in order]


class CsvRecords:
    """Counts the records of a CSV stream fed in chunks, header excluded: a line break inside a quoted
    field (a description typed on two lines) is part of its record, not the end of one."""

    def __init__(self) -> None:
        self._ended = 0
        self._quoted = False

    def feed(self, chunk: bytes) -> None:
        if b'"' not in chunk:
            if not self._quoted:
                self._ended += chunk.count(b"\n")
            return
        parts = chunk.split(b'"')  # a doubled quote inside a field toggles twice: no change
        for part in parts[::2] if not self._quoted else parts[1::2]:
            self._ended += part.count(b"\n")
        self._quoted ^= len(parts) % 2 == 0

    @property
    def rows(self) -> int:
        return max(self._ended - 1, 0)


def _path(org_id: uuid.UUID, export_id: uuid.UUID, fmt: str) -> Path:
    return Path(get_settings().export_dir) / str(org_id) / f"{export_id}.{fmt}"


def _clear_leftovers(final: Path) -> None:
    for stale in final.parent.glob(f"{final.name}.tmp-*"):
        stale.unlink(missing_ok=True)


def _commit_file(temporary: Path, final: Path) -> None:
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, final)
    directory = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


async def _progress(org_id: uuid.UUID, export_id: uuid.UUID, done: int, *, total: int | None = None) -> None:
    async with worker_database().unit_of_work(org_id=org_id) as session:
        await session.execute(
            text(
                "UPDATE exports SET done_rows = :done, total_rows = coalesce(:total, total_rows), heartbeat_at = now()"
                " WHERE org_id = :org AND id = :id AND status = 'running'"
            ),
            {"done": done, "total": total, "org": org_id, "id": export_id},
        )


async def _fail(org_id: uuid.UUID, export_id: uuid.UUID, reason: str) -> None:
    async with worker_database().unit_of_work(org_id=org_id) as session:
        await session.execute(
            text(
                "UPDATE exports SET status = 'failed', error = :reason, finished_at = now()"
                " WHERE org_id = :org AND id = :id AND status <> 'done'"
            ),
            {"reason": reason[:2000], "org": org_id, "id": export_id},
        )
        await audit.record(
            session,
            org_id=org_id,
            actor=None,
            action="export.failed",
            resource_type="export",
            resource_id=export_id,
            after={"error": reason[:2000]},
        )


class ExportRefused(Exception):
    """A reason the export cannot be made, stated to its requester as is."""


@jobs.actor(max_retries=2, min_backoff=1000, time_limit=3_600_000)
async def run_export(org_id: str, export_id: str) -> None:
    org, key = uuid.UUID(org_id), uuid.UUID(export_id)
    try:
        await _run(org, key)
    except ExportRefused as exc:
        log.warning("export_refused", export_id=export_id, reason=str(exc))
        await _fail(org, key, str(exc))
    except Exception as exc:
        log.exception("export_failed", export_id=export_id)
        for fmt in ("csv", "pdf", "xlsx"):
            _clear_leftovers(_path(org, key, fmt))
        await _fail(org, key, f"{type(exc).__name__}: {exc}")


async def _run(org: uuid.UUID, key: uuid.UUID) -> None:
    settings = get_settings()
    db = worker_database()
    # Claim it (committed at once, so the API shows "running" and progress can be written alongside).
    async with db.unit_of_work(org_id=org) as session:
        export = await session.get(Export, (org, key))
        if export is None or export.status in ("done", "expired"):
            log.info("export_nothing_to_do", export_id=str(key), status=export.status if export else None)
            return
        export.status, export.attempts, export.error = "running", export.attempts + 1, None
        export.started_at = export.heartbeat_at = utcnow()
        export.done_rows = 0
        requester = export.requested_by
    async with db.unit_of_work(org_id=org, user_id=requester) as session:
        # One producer per export: a second delivery while one runs does nothing.
        locked = await session.scalar(
            text("SELECT pg_try_advisory_xact_lock(hashtext('export:' || :id))"), {"id": str(key)}
        )
        if not locked:
            log.info("export_already_running", export_id=str(key))
            return
        export = await session.get(Export, (org, key), populate_existing=True)
        if export is None or export.status != "running":
            return
        await _produce(session, export, settings.export_test_delay_ms / 1000)


@dataclass(frozen=True)
class _Source:
    """What an export reads: its rows' query, their count, the columns, and what its manifest states."""

    query: str
    count_query: str
    params: dict[str, Any]
    columns: list[str]
    scope: str
    state: Callable[[], Awaitable[dict[str, Any]]]
    extra: dict[str, Any]


async def _time_source(ctx: OrgContext, export: Export) -> _Source:
    """Time entries, as the reports show them to the requester (their scope)."""
    scope = await reports.scope_of(ctx)
    raw = export.filters
    filters = reports.Filters(
        projects=[uuid.UUID(p) for p in raw.get("projects", [])],
        users=[uuid.UUID(u) for u in raw.get("users", [])],
        clients=[uuid.UUID(c) for c in raw.get("clients", [])],
        tags=raw.get("tags", []),
        billable=raw.get("billable"),
        approval=raw.get("approval", []),
    )
    first, last = reports.period(export.period_start, export.period_end, export.time_zone)
    return _Source(
        query=reports.export_query(export.kind, scope, filters),
        count_query=reports.export_count_query(export.kind, scope, filters),
        params={"org": export.org_id, "start": first, "end": last, **scope.params(), **filters.params()},
        columns=reports.EXPORT_COLUMNS[export.kind],
        scope=scope.kind,
        state=lambda: reports.period_state(ctx, first, last, scope),
        # The rule the figures were rounded by (reports round per entry; stored entries are never rounded).
        extra={"rounding": await tracking.rounding_rule(ctx)},
    )


async def _audit_source(ctx: OrgContext, export: Export) -> _Source:
    """The audit trail, oldest first; the manifest says whether the chain verified when it was read."""
    raw = export.filters
    first, last = reports.period(export.period_start, export.period_end, export.time_zone)
    filters = orgs.AuditFilters(
        actor_user_id=uuid.UUID(raw["actor_user_id"]) if raw.get("actor_user_id") else None,
        action=raw.get("action"),
        resource_type=raw.get("resource_type"),
        resource_id=raw.get("resource_id"),
        from_=first,
        to=last,
    )
    query, params = orgs.audit_export_query(filters)
    count_query, _ = orgs.audit_export_count_query(filters)
    try:
        chain = await orgs.audit_chain(ctx)
    except ProblemError:
        raise ExportRefused("The person who requested this export may no longer read the audit trail.") from None
    return _Source(
        query=query,
        count_query=count_query,
        params={"org": export.org_id, **params},
        columns=orgs.AUDIT_EXPORT_COLUMNS,
        scope="organization",
        state=_no_state,
        extra={"audit_chain": chain.model_dump(mode="json")},
    )


async def _no_state() -> dict[str, Any]:
    return {}


async def _produce(session: AsyncSession, export: Export, delay: float) -> None:
    org, key = export.org_id, export.id
    # The requester's reach as it stands now: removed from the organization means refused.
    try:
        ctx = await tracking.worker_context(session, org, export.requested_by)
    except ProblemError:
        raise ExportRefused("The person who requested this export is no longer a member of the organization.") from None
    source = await (_audit_source if export.kind == "audit" else _time_source)(ctx, export)
    params = source.params
    # Times render in the export's zone; a large export may outlast the API's statement timeout.
    await session.execute(
        text(
            "SELECT set_config('TimeZone', :tz, true), set_config('statement_timeout', '0', true),"
            " set_config('work_mem', :work_mem, true)"
        ),
        # The export's sort stays in memory instead of spilling to disk (one export per worker thread).
        {"tz": export.time_zone, "work_mem": EXPORT_WORK_MEM},
    )
    total = int(await session.scalar(text(source.count_query), params) or 0)
    # Progress goes through its own short transactions: this one must not hold the export's row lock.
    await _progress(org, key, 0, total=total)
    query, state = source.query, await source.state()
    signer = await _signer(session, org)

    final = _path(org, key, export.format)
    final.parent.mkdir(parents=True, exist_ok=True)
    _clear_leftovers(final)
    csv_temp = final.with_name(f"{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    if export.format in ("pdf", "xlsx"):
        csv_temp = csv_temp.with_name(csv_temp.name + ".csv")
    digest = hashlib.sha256()
    records = CsvRecords()
    reported = {"at": 0.0}

    async def write(chunk: bytes) -> None:
        handle.write(chunk)
        digest.update(chunk)
        records.feed(chunk)
        now = time.monotonic()
        if now - reported["at"] >= PROGRESS_EVERY_SECONDS:
            reported["at"] = now
            await _progress(org, key, min(records.rows, total))
        if delay:
            await asyncio.sleep(delay)

    connection = await session.connection()
    raw_connection = await connection.get_raw_connection()
    driver: Any = raw_connection.driver_connection
    sql, args = positional(query, params)
    with csv_temp.open("wb") as handle:
        await driver.copy_from_query(sql, *args, output=write, format="csv", header=True)
        handle.flush()
    data_sha = digest.hexdigest()
    generated_at = utcnow()
    if export.format == "pdf":
        temporary = final.with_name(f"{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        progress = _sync_progress(org, key, asyncio.get_running_loop())
        await asyncio.to_thread(
            pdf.render,
            csv_temp,
            temporary,
            pdf.Header(
                org_name=ctx.org.name,
                kind=export.kind,
                period=f"{export.period_start} to {export.period_end} ({export.time_zone})",
                filters=export.filters,
                lock=state,
                generated_at=generated_at.isoformat(),
                data_sha256=data_sha,
                export_id=str(key),
            ),
            progress,
        )
        csv_temp.unlink(missing_ok=True)
    elif export.format == "xlsx":
        temporary = final.with_name(f"{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        about = xlsx.facts(
            {
                "export_id": str(key),
                "organization": ctx.org.name,
                "kind": export.kind,
                "period_from": str(export.period_start),
                "period_to": str(export.period_end),
                "time_zone": export.time_zone,
                "filters": export.filters,
                "period": state,
                **source.extra,
                "generated_at": generated_at.isoformat(),
                "data_sha256": data_sha,
            }
        )
        progress = _sync_progress(org, key, asyncio.get_running_loop())
        await asyncio.to_thread(xlsx.render, csv_temp, temporary, about, generated_at, progress)
        csv_temp.unlink(missing_ok=True)
    else:
        temporary = csv_temp
    file_sha = hashlib.sha256(temporary.read_bytes()).hexdigest()
    size = temporary.stat().st_size
    file_name = f"worktime-{export.kind}-{export.period_start}-{export.period_end}.{export.format}"
    manifest = signer(
        {
            "version": 1,
            "export_id": str(key),
            "organization": {"id": str(org), "slug": ctx.org.slug, "name": ctx.org.name},
            "requested_by": str(export.requested_by),
            "scope": source.scope,
            "kind": export.kind,
            "format": export.format,
            "columns": source.columns,
            "filters": export.filters,
            "time_zone": export.time_zone,
            "period": {"from": str(export.period_start), "to": str(export.period_end), **state},
            **source.extra,
            "row_count": records.rows,
            "generated_at": generated_at.isoformat(),
            "file": {"name": file_name, "sha256": file_sha, "size_bytes": size},
            # The CSV rows the file was made from (for a CSV export, the file itself); a PDF prints this
            # hash on its last page, since a file cannot contain its own hash.
            "data_sha256": data_sha,
        }
    )
    _commit_file(temporary, final)
    manifest_path = final.with_name(f"{key}.manifest.json")
    manifest_temp = manifest_path.with_name(f"{manifest_path.name}.tmp-{os.getpid()}")
    manifest_temp.write_bytes(signing.json_bytes(manifest))
    _commit_file(manifest_temp, manifest_path)
    retention = timedelta(hours=(await service.retention_hours(session, org))[0])
    await session.execute(
        text(
            "UPDATE exports SET status = 'done', done_rows = :rows, total_rows = :rows, file_name = :name,"
            " size_bytes = :size, sha256 = :sha, manifest = CAST(:manifest AS jsonb), finished_at = :at,"
            " heartbeat_at = :at, expires_at = :expires WHERE org_id = :org AND id = :id"
        ),
        {
            "rows": manifest["row_count"],
            "name": file_name,
            "size": size,
            "sha": file_sha,
            "manifest": signing.json_bytes(manifest).decode(),
            "at": generated_at,
            "expires": generated_at + retention,
            "org": org,
            "id": key,
        },
    )
    await audit.record(
        session,
        org_id=org,
        actor=None,
        action="export.completed",
        resource_type="export",
        resource_id=key,
        after={"sha256": file_sha, "rows": manifest["row_count"], "size_bytes": size},
    )
    # In this unit of work's outbox: announced only if the row is marked done.
    hooks.emit(
        org,
        "export.completed",
        export_id=key,
        requested_by=export.requested_by,
        kind=export.kind,
        format=export.format,
        rows=manifest["row_count"],
        size_bytes=size,
        sha256=file_sha,
        expires_at=(generated_at + retention).isoformat(),
    )
    # Follow-ups of a finished export (a scheduled export's mail, backend/reminders/schedules.py), by name:
    # in the same outbox, so they run only if the row is marked done; a no-op for an unscheduled export.
    jobs.send(COMPLETED_FOLLOW_UP, str(org), str(key))
    log.info("export_done", export_id=str(key), rows=manifest["row_count"], bytes=size)


def _sync_progress(org: uuid.UUID, key: uuid.UUID, loop: asyncio.AbstractEventLoop) -> Callable[[int], None]:
    """Progress from the PDF renderer's thread, handed to the event loop (fire and forget)."""
    last = {"at": 0.0}

    def report(done: int) -> None:
        now = time.monotonic()
        if now - last["at"] >= PROGRESS_EVERY_SECONDS:
            last["at"] = now
            asyncio.run_coroutine_threadsafe(_progress(org, key, done), loop)

    return report


async def _signer(session: AsyncSession, org: uuid.UUID) -> Callable[[dict[str, Any]], dict[str, Any]]:
    ctx_key = await _signing_key(session, org)
    private = signing.unseal(get_settings().export_key_secret, org, ctx_key[1])

    def sign(manifest: dict[str, Any]) -> dict[str, Any]:
        return signing.sign(manifest, private, ctx_key[0])

    return sign


async def _signing_key(session: AsyncSession, org: uuid.UUID) -> tuple[str, bytes]:
    row = (
        await session.execute(
            text(
                "SELECT key_id, private_key_encrypted FROM export_signing_keys WHERE org_id = :org"
                " ORDER BY created_at LIMIT 1"
            ),
            {"org": org},
        )
    ).first()
    if row is not None:
        return row[0], bytes(row[1])
    made = signing.new_key(get_settings().export_key_secret, org)
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('export-key:' || :org))"), {"org": str(org)})
    again = (
        await session.execute(
            text("SELECT key_id, private_key_encrypted FROM export_signing_keys WHERE org_id = :org LIMIT 1"),
            {"org": org},
        )
    ).first()
    if again is not None:
        return again[0], bytes(again[1])
    await session.execute(
        text(
            "INSERT INTO export_signing_keys (org_id, key_id, public_key, private_key_encrypted)"
            " VALUES (:org, :kid, :pub, :sealed)"
        ),
        {"org": org, "kid": made.key_id, "pub": made.public_key, "sealed": made.private_key_encrypted},
    )
    return made.key_id, made.private_key_encrypted


# --- the sweep: expiry and stalled exports ----------------------------------------------------------


@jobs.actor(max_retries=0, time_limit=900_000)
async def sweep_exports() -> None:
    """The sweep as a job: every worker's scheduler offers it each ``export_sweep_interval_seconds``
    (backend/worker.py); a Redis lease lets one through per interval."""
    await sweep()


async def sweep(*, stale_seconds: int | None = None) -> dict[str, int]:
    """Expire finished exports past their retention (file and manifest removed, row kept as ``expired``)
    and re-send exports stalled in ``running`` or ``queued``. The workers run it periodically
    (``sweep_exports``); ``python -m backend export sweep`` runs it at once."""
    import asyncpg

    settings = get_settings()
    stale = timedelta(seconds=settings.export_stale_seconds if stale_seconds is None else stale_seconds)
    owner = await asyncpg.connect(settings.database_owner_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        rows = await owner.fetch(
            "SELECT org_id, id, format, status, expires_at, coalesce(heartbeat_at, created_at) AS seen"
            " FROM exports WHERE status IN ('done', 'running', 'queued')"
        )
    finally:
        await owner.close()
    now = datetime.now(UTC)
    counts = {"expired": 0, "resent": 0}
    for row in rows:
        if row["status"] == "done" and row["expires_at"] is not None and row["expires_at"] <= now:
            final = _path(row["org_id"], row["id"], row["format"])
            final.unlink(missing_ok=True)
            final.with_name(f"{row['id']}.manifest.json").unlink(missing_ok=True)
            async with worker_database().unit_of_work(org_id=row["org_id"]) as session:
                await session.execute(
                    text("UPDATE exports SET status = 'expired' WHERE org_id = :org AND id = :id AND status = 'done'"),
                    {"org": row["org_id"], "id": row["id"]},
                )
            counts["expired"] += 1
        elif row["status"] in ("running", "queued") and now - row["seen"] >= stale:
            jobs.send(run_export, str(row["org_id"]), str(row["id"]))
            counts["resent"] += 1
    log.info("export_sweep", **counts)
    return counts
