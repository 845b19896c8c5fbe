"""Tenant offboarding: an owner's export of everything an organization holds, its deletion after a grace
period, and the purge that removes it for good from Postgres, storage and Keycloak.

- **Export** (``tenant_data:read``, owner only): a worker writes one zip with one JSON Lines file per table
  that has an ``org_id`` column (found in the catalog each time, so a table added later is exported
  without anyone listing it), the attachments' bytes, and ``manifest.json`` (rows and sha256 per file)
  signed with the organization's export key, like the exports' manifests. Downloaded with the bearer
  token or a signed link.
- **Schedule / cancel** (``offboarding:schedule`` / ``offboarding:cancel``): the organization is archived
  at once (read-only) and an ``org_deletions`` record (not a tenant table) names the time after which the
  purge may run; cancelling during the grace period restores the previous state.
- **Purge** (:func:`purge_due`, the scheduled tick): as the owner role, through the ``offboarding_purge``
  row-level security policies (migration 0036). Each step is idempotent and the record says how far it
  got, so a crash midway is resumed by the next tick: (1) counts, identity providers and the accounts to
  remove are written to the record; (2) storage objects and export files go; (3) every tenant row goes
  in one transaction, checked to be zero afterwards; (4) Keycloak's identity providers, organization and
  the accounts of people who belonged to no other organization go; (5) the record says ``purged``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import shutil
import time
import uuid
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core import audit, jobs
from backend.core.errors import Conflict, NotFound
from backend.core.models import utcnow
from backend.core.storage import Storage, create_storage
from backend.core.worker import worker_database
from backend.exports import service as exports
from backend.orgs import schemas
from backend.orgs.models import OffboardingExport, OrgDeletion
from backend.settings import Settings, get_settings
from backend.tenancy import guard, mirror
from backend.tenancy.context import OrgContext
from backend.tenancy.directory import Directory
from backend.tenancy.models import Organization

log = structlog.get_logger(__name__)
#: The one table whose rows point at storage objects (backend/work/attachments.py).
ATTACHMENTS_TABLE = "task_attachments"
OPEN = ("scheduled", "purging")


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    """As the exports write theirs (backend/exports/signing.py ``json_bytes``): readable, keys sorted."""
    return json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False).encode() + b"\n"


# --- reads ---------------------------------------------------------------------------------------------


def _deletion_read(row: OrgDeletion) -> schemas.OrgDeletionRead:
    return schemas.OrgDeletionRead.model_validate(row, from_attributes=True)


def _export_read(row: OffboardingExport) -> schemas.OffboardingExportRead:
    return schemas.OffboardingExportRead.model_validate(row, from_attributes=True)


async def _open_deletion(session: AsyncSession, org_id: uuid.UUID, *, lock: bool = True) -> OrgDeletion | None:
    found = await session.execute(
        text("SELECT id FROM org_deletions WHERE organization_id = :org AND status IN ('scheduled', 'purging')"),
        {"org": org_id},
    )
    deletion_id = found.scalar()
    if deletion_id is None:
        return None
    return await session.get(OrgDeletion, deletion_id, with_for_update=lock, populate_existing=True)


async def status(ctx: OrgContext) -> schemas.OffboardingRead:
    guard.require(ctx, "offboarding:read")
    deletion = await _open_deletion(ctx.session, ctx.org_id, lock=False)
    return schemas.OffboardingRead(
        deletion=None if deletion is None else _deletion_read(deletion),
        grace_days=get_settings().offboarding_grace_days,
    )


# --- schedule and cancel -------------------------------------------------------------------------------


async def schedule(ctx: OrgContext) -> schemas.OrgDeletionRead:
    """Archive the organization now and schedule its purge after the grace period."""
    guard.require(ctx, "offboarding:schedule", even_if_archived=True)
    org = await ctx.session.get(Organization, ctx.org_id, with_for_update=True)
    assert org is not None  # the context just found it in this transaction
    if await _open_deletion(ctx.session, ctx.org_id) is not None:
        raise Conflict("This organization's deletion is already scheduled.")
    now = utcnow()
    was_archived = org.archived_at is not None
    if not was_archived:
        before = {"slug": org.slug, "name": org.name, "archived_at": None}
        org.archived_at = org.updated_at = now
        await ctx.session.flush()
        await audit.record_in(
            ctx,
            action="organization.archived",
            resource_type="organization",
            resource_id=ctx.org_id,
            before=before,
            after={**before, "archived_at": now},
        )
        mirror.request(ctx.org_id)  # disabled in Keycloak after commit: nobody signs in through it
    deletion = OrgDeletion(
        organization_id=ctx.org_id,
        slug=org.slug,
        name=org.name,
        status="scheduled",
        requested_by=ctx.user_id,
        requested_by_email=ctx.principal.email,
        was_archived=was_archived,
        scheduled_at=now,
        purge_after=now + timedelta(days=get_settings().offboarding_grace_days),
    )
    ctx.session.add(deletion)
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="organization.deletion_scheduled",
        resource_type="organization",
        resource_id=ctx.org_id,
        after={"deletion_id": str(deletion.id), "purge_after": deletion.purge_after.isoformat()},
    )
    return _deletion_read(deletion)


async def cancel(ctx: OrgContext) -> schemas.OrgDeletionRead:
    """Cancel a scheduled deletion during its grace period; an organization the schedule archived is
    active again."""
    guard.require(ctx, "offboarding:cancel", even_if_archived=True)
    deletion = await _open_deletion(ctx.session, ctx.org_id)
    if deletion is None:
        raise NotFound("No deletion is scheduled for this organization.")
    if deletion.status != "scheduled":
        raise Conflict("The purge has started; it can no longer be cancelled.")
    now = utcnow()
    deletion.status, deletion.cancelled_at, deletion.cancelled_by = "cancelled", now, ctx.user_id
    if not deletion.was_archived:
        org = await ctx.session.get(Organization, ctx.org_id, with_for_update=True)
        assert org is not None
        org.archived_at, org.updated_at = None, now
        mirror.request(ctx.org_id)  # enabled again in Keycloak after commit
    await ctx.session.flush()
    await audit.record_in(
        ctx,
        action="organization.deletion_cancelled",
        resource_type="organization",
        resource_id=ctx.org_id,
        before={"deletion_id": str(deletion.id), "purge_after": deletion.purge_after.isoformat()},
        after={"unarchived": not deletion.was_archived},
    )
    return _deletion_read(deletion)


# --- the export: request, state, link, download --------------------------------------------------------


async def request_export(ctx: OrgContext) -> schemas.OffboardingExportRead:
    guard.require(ctx, "tenant_data:read")
    row = OffboardingExport(org_id=ctx.org_id, requested_by=ctx.user_id)
    ctx.session.add(row)
    await ctx.session.flush()
    await audit.record_in(
        ctx, action="offboarding_export.requested", resource_type="offboarding_export", resource_id=row.id
    )
    jobs.send("run_offboarding_export", str(ctx.org_id), str(row.id))
    return _export_read(row)


async def _export(ctx: OrgContext, export_id: uuid.UUID) -> OffboardingExport:
    row = await ctx.session.get(OffboardingExport, (ctx.org_id, export_id))
    if row is None:
        raise NotFound("No such export.")
    return row


async def get_export(ctx: OrgContext, export_id: uuid.UUID) -> schemas.OffboardingExportRead:
    guard.require(ctx, "tenant_data:read")
    return _export_read(await _export(ctx, export_id))


def export_path(org_id: uuid.UUID, export_id: uuid.UUID) -> Path:
    return Path(get_settings().export_dir) / str(org_id) / f"offboarding-{export_id}.zip"


def link_signature(secret: str, org_id: uuid.UUID, export_id: uuid.UUID, user_id: uuid.UUID, expires: int) -> str:
    """Its own message (``offboarding:…``), so an export's link never opens an offboarding archive."""
    message = f"offboarding:{org_id}:{export_id}:{user_id}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def link_valid(
    secret: str, org_id: uuid.UUID, export_id: uuid.UUID, user_id: uuid.UUID, expires: int, sig: str, now: float
) -> bool:
    expected = link_signature(secret, org_id, export_id, user_id, expires)
    return hmac.compare_digest(expected, sig) and now < expires <= now + 900 + 5


async def export_link(ctx: OrgContext, export_id: uuid.UUID, base_url: str) -> schemas.OffboardingLink:
    guard.require(ctx, "tenant_data:read")
    row = await _export(ctx, export_id)
    if row.status != "done":
        raise Conflict(f"This export is {row.status}; there is no file to link to.")
    settings = get_settings()
    expires = int(time.time()) + min(settings.export_link_seconds, 900)
    sig = link_signature(settings.export_link_secret, ctx.org_id, row.id, ctx.user_id, expires)
    url = (
        f"{base_url.rstrip('/')}/api/v1/orgs/{ctx.org_id}/offboarding/exports/{row.id}/download"
        f"?user={ctx.user_id}&expires={expires}&sig={sig}"
    )
    return schemas.OffboardingLink(url=url, expires_at=datetime.fromtimestamp(expires, UTC))


async def download(ctx: OrgContext, export_id: uuid.UUID) -> tuple[Path, str]:
    guard.require(ctx, "tenant_data:read")
    row = await _export(ctx, export_id)
    if row.status != "done" or row.file_name is None:
        raise Conflict(f"This export is {row.status}; there is no file to download.")
    path = export_path(ctx.org_id, row.id)
    if not path.exists():
        raise Conflict("The export's file is gone; request a new export.")
    # Logged, not audited: a read leaves the organization's trail as it was (an archived one included).
    log.info("offboarding_export_downloaded", export_id=str(row.id), user_id=str(ctx.user_id))
    return path, row.file_name


# --- the export job --------------------------------------------------------------------------------------


async def tenant_tables(conn: Any) -> list[str]:
    """Every table of the public schema with an ``org_id`` column, from the catalog."""
    rows = await conn.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname"
    )
    return [str(row["relname"]) for row in rows]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class _Entry:
    sha: Any
    size: int = 0
    rows: int = 0


async def run_export(org_id: uuid.UUID, export_id: uuid.UUID, *, storage: Storage | None = None) -> None:
    """Make the archive (the job ``run_offboarding_export``); a finished one is never made twice, a
    failed or interrupted one is made again from the start."""
    db = worker_database()
    async with db.unit_of_work(org_id=org_id) as session:
        row = await session.get(OffboardingExport, (org_id, export_id))
        if row is None or row.status == "done":
            return
        row.status, row.attempts, row.error, row.started_at = "running", row.attempts + 1, None, utcnow()
    try:
        await _produce(org_id, export_id, storage or create_storage(get_settings()))
    except Exception as exc:
        log.exception("offboarding_export_failed", export_id=str(export_id))
        async with db.unit_of_work(org_id=org_id) as session:
            await session.execute(
                text(
                    "UPDATE offboarding_exports SET status = 'failed', error = :error, finished_at = now()"
                    " WHERE org_id = :org AND id = :id AND status <> 'done'"
                ),
                {"error": f"{type(exc).__name__}: {exc}"[:2000], "org": org_id, "id": export_id},
            )
        raise


async def _produce(org_id: uuid.UUID, export_id: uuid.UUID, storage: Storage) -> None:
    import asyncpg

    settings = get_settings()
    final = export_path(org_id, export_id)
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f"{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tables: dict[str, dict[str, Any]] = {}
    attachments: list[dict[str, Any]] = []
    files: dict[str, dict[str, Any]] = {}
    # The organization's signing key is made on first use: made (and committed) before the tables are read,
    # so the archive holds the key that signs its manifest.
    async with worker_database().unit_of_work(org_id=org_id) as session:
        await exports.sign_statement(session, org_id, {"offboarding_export": str(export_id)})
    # The owner role reads every row of the tenant (its read policies), a person's private notes included:
    # the export is the organization's, not one member's view of it.
    owner = await asyncpg.connect(_plain(settings.database_owner_url))
    try:
        org = await owner.fetchrow("SELECT id, slug, name FROM organizations WHERE id = $1", org_id)
        if org is None:
            raise RuntimeError("the organization is gone")
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:

            async def write_rows(table: str, query: str) -> None:
                name = f"tables/{table}.jsonl"
                entry = _Entry(hashlib.sha256())
                async with owner.transaction(readonly=True, isolation="repeatable_read"):
                    with archive.open(name, "w", force_zip64=True) as handle:
                        async for record in owner.cursor(query, org_id, prefetch=500):
                            line = record[0].encode() + b"\n"
                            handle.write(line)
                            entry.sha.update(line)
                            entry.size += len(line)
                            entry.rows += 1
                tables[table] = {"file": name, "rows": entry.rows}
                files[name] = {"sha256": entry.sha.hexdigest(), "size_bytes": entry.size}

            await write_rows("organizations", "SELECT row_to_json(t)::text FROM organizations t WHERE t.id = $1")
            for table in await tenant_tables(owner):
                await write_rows(table, f"SELECT row_to_json(t)::text FROM {_quote(table)} t WHERE t.org_id = $1")
            for item in await owner.fetch(
                f"SELECT id, storage_key, filename, sha256 FROM {ATTACHMENTS_TABLE} WHERE org_id = $1 ORDER BY id",
                org_id,
            ):
                name = f"attachments/{item['id']}"
                digest, size = hashlib.sha256(), 0
                with archive.open(name, "w", force_zip64=True) as handle:
                    async for chunk in storage.read(item["storage_key"]):
                        handle.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
                files[name] = {"sha256": digest.hexdigest(), "size_bytes": size}
                attachments.append(
                    {"id": str(item["id"]), "file": name, "filename": item["filename"],
                     "storage_key": item["storage_key"], "sha256": digest.hexdigest(), "size_bytes": size}
                )  # fmt: skip
                if digest.hexdigest() != item["sha256"]:
                    raise RuntimeError(f"attachment {item['id']}: its bytes do not match the sha256 on record")
            statement = {
                "version": 1,
                "kind": "offboarding",
                "export_id": str(export_id),
                "organization": {"id": str(org_id), "slug": org["slug"], "name": org["name"]},
                "generated_at": utcnow().isoformat(),
                "tables": tables,
                "attachments": attachments,
                "files": files,
            }
            async with worker_database().unit_of_work(org_id=org_id) as session:
                manifest = await exports.sign_statement(session, org_id, statement)
            manifest_bytes = _manifest_bytes(manifest)
            archive.writestr("manifest.json", manifest_bytes)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    finally:
        await owner.close()
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, final)
    file_sha = await asyncio.to_thread(lambda: hashlib.sha256(final.read_bytes()).hexdigest())
    manifest_sha = hashlib.sha256(manifest_bytes).hexdigest()
    final.with_name(f"offboarding-{export_id}.manifest.json").write_bytes(manifest_bytes)
    async with worker_database().unit_of_work(org_id=org_id) as session:
        await session.execute(
            text(
                "UPDATE offboarding_exports SET status = 'done', file_name = :name, size_bytes = :size, sha256 = :sha,"
                " manifest_sha256 = :msha, manifest = CAST(:manifest AS jsonb), finished_at = now()"
                " WHERE org_id = :org AND id = :id"
            ),
            {
                "name": f"worktime-{org['slug']}-all-data.zip",
                "size": final.stat().st_size,
                "sha": file_sha,
                "msha": manifest_sha,
                "manifest": manifest_bytes.decode(),
                "org": org_id,
                "id": export_id,
            },
        )
        await audit.record(
            session,
            org_id=org_id,
            actor=None,
            action="offboarding_export.completed",
            resource_type="offboarding_export",
            resource_id=export_id,
            after={"sha256": file_sha, "manifest_sha256": manifest_sha, "tables": len(tables),
                   "attachments": len(attachments)},
        )  # fmt: skip
    log.info("offboarding_export_done", export_id=str(export_id), tables=len(tables), attachments=len(attachments))


# --- the purge -------------------------------------------------------------------------------------------


def _deletion_order(tables: list[str], edges: list[tuple[str, str]]) -> list[str]:
    """Tables ordered so that a table referencing another is emptied first (Kahn's algorithm; a cycle's
    members come last, in name order, and rely on their cascades)."""
    referencing: dict[str, set[str]] = {t: set() for t in tables}  # parent -> children still to empty
    for child, parent in edges:
        if child != parent and child in referencing and parent in referencing:
            referencing[parent].add(child)
    order: list[str] = []
    remaining = set(tables)
    while remaining:
        ready = sorted(t for t in remaining if not (referencing[t] & remaining))
        if not ready:
            order += sorted(remaining)
            break
        order += ready
        remaining -= set(ready)
    return order


async def _purge_order(owner: Any) -> list[str]:
    tables = await tenant_tables(owner)
    missing = [
        row["relname"]
        for row in await owner.fetch(
            "SELECT c.relname FROM pg_class c"
            " WHERE c.relname = ANY($1::text[]) AND c.relnamespace = 'public'::regnamespace"
            " AND NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'offboarding_purge')",
            tables,
        )
    ]
    if missing:
        raise RuntimeError(
            f"tables without the offboarding_purge policy (backend/core/rls.py purge_policy): {sorted(missing)}"
        )
    edges = [
        (str(row["child"]), str(row["parent"]))
        for row in await owner.fetch(
            "SELECT conrelid::regclass::text AS child, confrelid::regclass::text AS parent FROM pg_constraint"
            " WHERE contype = 'f'"
        )
    ]
    return _deletion_order(tables, edges)


@dataclass
class PurgeOutcome:
    deletion_id: uuid.UUID
    organization_id: uuid.UUID
    done: bool
    error: str | None = None


async def purge_due(
    settings: Settings | None = None,
    *,
    storage: Storage | None = None,
    directory: Directory | None = None,
) -> list[PurgeOutcome]:
    """The scheduled tick: purge every organization whose grace period is over, and resume every purge a
    crash interrupted. One organization's failure is recorded on its record and retried next tick."""
    import asyncpg

    settings = settings or get_settings()
    owner = await asyncpg.connect(_plain(settings.database_owner_url))
    try:
        due = await owner.fetch(
            "SELECT id, organization_id FROM org_deletions"
            " WHERE status = 'purging' OR (status = 'scheduled' AND purge_after <= now()) ORDER BY purge_after"
        )
        outcomes: list[PurgeOutcome] = []
        for row in due:
            outcome = PurgeOutcome(row["id"], row["organization_id"], done=False)
            try:
                outcome.done = await _purge_one(
                    owner, row["id"], settings, storage or create_storage(settings), directory or _directory()
                )
            except Exception as exc:
                outcome.error = f"{type(exc).__name__}: {exc}"[:2000]
                log.warning("offboarding_purge_failed", org_id=str(row["organization_id"]), error=outcome.error)
                await owner.execute("UPDATE org_deletions SET last_error = $2 WHERE id = $1", row["id"], outcome.error)
            outcomes.append(outcome)
        return outcomes
    finally:
        await owner.close()


def _directory() -> Directory:
    return mirror.worker_directory()


async def _purge_one(
    owner: Any, deletion_id: uuid.UUID, settings: Settings, storage: Storage, directory: Directory
) -> bool:
    # One purge per organization at a time, whatever overlaps (two ticks, the CLI).
    if not await owner.fetchval("SELECT pg_try_advisory_lock(hashtext('offboarding:' || $1::text))", str(deletion_id)):
        return False
    try:
        return await _purge_steps(owner, deletion_id, settings, storage, directory)
    finally:
        await owner.execute("SELECT pg_advisory_unlock(hashtext('offboarding:' || $1::text))", str(deletion_id))


async def _purge_steps(
    owner: Any, deletion_id: uuid.UUID, settings: Settings, storage: Storage, directory: Directory
) -> bool:
    record = await owner.fetchrow("SELECT * FROM org_deletions WHERE id = $1", deletion_id)
    if record is None or record["status"] not in OPEN:
        return False
    org: uuid.UUID = record["organization_id"]
    order = await _purge_order(owner)

    # (1) What is about to go, written down before anything goes (a resumed purge keeps the first count).
    if record["status"] == "scheduled":
        if record["purge_after"] > datetime.now(UTC):
            return False
        counts = {"organizations": int(await owner.fetchval("SELECT count(*) FROM organizations WHERE id = $1", org))}
        for table in order:
            counts[table] = int(await owner.fetchval(f"SELECT count(*) FROM {_quote(table)} WHERE org_id = $1", org))
        aliases = [
            r["idp_alias"] for r in await owner.fetch("SELECT idp_alias FROM sso_providers WHERE org_id = $1", org)
        ]
        # People who belong to no other organization: their accounts go too (service accounts stay: a
        # client's service account is the client's, not a person's).
        alone = await owner.fetch(
            "SELECT m.user_id FROM memberships m JOIN users u ON u.id = m.user_id"
            " WHERE m.org_id = $1 AND NOT u.is_service_account"
            " AND NOT EXISTS (SELECT 1 FROM memberships o WHERE o.user_id = m.user_id AND o.org_id <> $1)",
            org,
        )
        latest = await owner.fetchrow(
            "SELECT id, manifest_sha256 FROM offboarding_exports WHERE org_id = $1 AND status = 'done'"
            " ORDER BY finished_at DESC LIMIT 1",
            org,
        )
        keycloak: dict[str, Any] = {
            "idp_aliases": aliases,
            "accounts": [str(r["user_id"]) for r in alone],
            "idps_removed": [],
            "organization_removed": None,
            "accounts_removed": [],
        }
        await owner.execute(
            "UPDATE org_deletions SET status = 'purging', purge_started_at = now(), counts = $2::jsonb,"
            " keycloak = $3::jsonb, export_id = $4, export_manifest_sha256 = $5, attempts = attempts + 1"
            " WHERE id = $1 AND status = 'scheduled'",
            deletion_id,
            json.dumps(counts),
            json.dumps(keycloak),
            latest["id"] if latest else None,
            latest["manifest_sha256"] if latest else None,
        )
    else:
        await owner.execute("UPDATE org_deletions SET attempts = attempts + 1 WHERE id = $1", deletion_id)
        keycloak = json.loads(record["keycloak"]) if isinstance(record["keycloak"], str) else dict(record["keycloak"])

    # (2) Storage: every attachment object, anything else under the organization's prefix, the export files.
    if record["rows_purged_at"] is None:
        keys = {
            r["storage_key"]
            for r in await owner.fetch(f"SELECT storage_key FROM {ATTACHMENTS_TABLE} WHERE org_id = $1", org)
        }
    else:
        keys = set()
    keys |= {key for key in await storage.keys() if key.startswith(f"{org}/")}
    for key in sorted(keys):
        await storage.delete(key)
    await asyncio.to_thread(shutil.rmtree, Path(settings.export_dir) / str(org), True)
    await owner.execute(
        # A resumed purge deletes (and counts) the same objects again: the record keeps the largest count.
        "UPDATE org_deletions SET storage_objects = greatest(coalesce(storage_objects, 0), $2) WHERE id = $1",
        deletion_id,
        len(keys),
    )

    # (3) Every tenant row, in one transaction, through the owner's offboarding_purge policies.
    if record["rows_purged_at"] is None:
        async with owner.transaction():
            await owner.execute(
                "SELECT set_config('app.org_id', $1, true), set_config('app.purge_org_id', $1, true),"
                " set_config('statement_timeout', '0', true)",
                str(org),
            )
            # A second pass for rows that a trigger wrote while a first pass emptied another table (the
            # burn-down totals follow deleted time entries).
            for _ in range(2):
                for table in order:
                    await owner.execute(f"DELETE FROM {_quote(table)} WHERE org_id = $1", org)
            await owner.execute("DELETE FROM organizations WHERE id = $1", org)
            for user_id in keycloak["accounts"]:
                # Their person row too, unless another organization's rows still name them.
                await owner.execute("SELECT set_config('app.user_id', $1, true)", user_id)
                try:
                    async with owner.transaction():
                        await owner.execute(
                            "DELETE FROM users WHERE id = $1"
                            " AND NOT EXISTS (SELECT 1 FROM memberships WHERE user_id = $1)",
                            uuid.UUID(user_id),
                        )
                except Exception as exc:  # a foreign key from another tenant's history: the row stays
                    log.info("offboarding_user_row_kept", user_id=user_id, reason=type(exc).__name__)
            left = {
                table: n
                for table in order
                if (n := int(await owner.fetchval(f"SELECT count(*) FROM {_quote(table)} WHERE org_id = $1", org)))
            }
            if left or await owner.fetchval("SELECT count(*) FROM organizations WHERE id = $1", org):
                raise RuntimeError(f"rows left after the purge, rolled back: {left}")
            await owner.execute("UPDATE org_deletions SET rows_purged_at = now() WHERE id = $1", deletion_id)

    # (4) Keycloak: the providers, the organization, the accounts of people who belong nowhere else now.
    for alias in keycloak["idp_aliases"]:
        if alias not in keycloak["idps_removed"]:
            await directory.delete_idp(alias)
            keycloak["idps_removed"].append(alias)
    if not keycloak["organization_removed"]:
        await directory.forget(org)
        keycloak["organization_removed"] = True
    for user_id in keycloak["accounts"]:
        if user_id in keycloak["accounts_removed"]:
            continue
        if not await owner.fetchval("SELECT EXISTS (SELECT 1 FROM memberships WHERE user_id = $1)", uuid.UUID(user_id)):
            await directory.delete_account(uuid.UUID(user_id))
            keycloak["accounts_removed"].append(user_id)
    await owner.execute(
        "UPDATE org_deletions SET keycloak = $2::jsonb, status = 'purged', purged_at = now(), last_error = NULL"
        " WHERE id = $1",
        deletion_id,
        json.dumps(keycloak),
    )
    log.info("offboarding_purged", org_id=str(org), deletion_id=str(deletion_id))
    return True


# --- the operator's view ---------------------------------------------------------------------------------


async def list_deletions(settings: Settings, *, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """The deletion records, newest first (``python -m backend orgs deletions``), read as the owner role."""
    import asyncpg

    owner = await asyncpg.connect(_plain(settings.database_owner_url))
    try:
        rows = await owner.fetch(
            "SELECT id, organization_id, slug, name, status, requested_by, requested_by_email, scheduled_at,"
            " purge_after, cancelled_at, purge_started_at, purged_at, attempts, last_error, counts,"
            " storage_objects, keycloak, export_id, export_manifest_sha256"
            " FROM org_deletions ORDER BY scheduled_at DESC, id LIMIT $1 OFFSET $2",
            limit,
            offset,
        )
    finally:
        await owner.close()
    out: list[dict[str, Any]] = []
    for row in rows:
        item = dict(row)
        for key in ("counts", "keycloak"):
            if isinstance(item[key], str):
                item[key] = json.loads(item[key])
        out.append(item)
    return out
