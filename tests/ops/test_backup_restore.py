"""The backup and restore drill of docs/operations.md, run for real: `pg_dump -Fc` of the live database
and a copy of the attachment store, restored into a fresh database and directory, migrated, and checked
the way an operator would after a restore: every tenant's rows are there, every attachment's file is
there, and `audit verify` passes."""

from __future__ import annotations

import asyncio
import subprocess
import tarfile
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from backend.core.storage import LocalStorage
from tests.conftest import run_cli


def _pg_tool(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    assert found, f"{name} not installed (Debian's postgresql-client)"
    return str(found[-1])


async def _run(*argv: str) -> None:
    await asyncio.to_thread(subprocess.run, argv, check=True)


def _with_database(url: str, database: str) -> str:
    return url.rsplit("/", 1)[0] + f"/{database}"


async def _rows_per_tenant(connection: Any) -> dict[tuple[str, str], int]:
    """(table, org_id) → rows, read as the superuser (no row-level security applies to it)."""
    tables = await connection.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
    )
    counts: dict[tuple[str, str], int] = {}
    for (table,) in tables:
        for org_id, rows in await connection.fetch(f'SELECT org_id, count(*) FROM "{table}" GROUP BY 1'):
            counts[(table, str(org_id))] = rows
    return counts


async def test_a_backup_restores_into_a_fresh_database_with_its_files_and_a_valid_audit_chain(
    migrated: dict[str, str], settings: Any, demo_orgs: dict[str, Any], tmp_path: Path
) -> None:
    superuser = migrated["WORKTIME_DATABASE_SUPERUSER_URL"]
    source = _with_database(superuser, "worktime")
    restored_db = f"restore_{uuid.uuid4().hex[:10]}"
    restored = _with_database(superuser, restored_db)

    # Backup: the database (custom format), then the attachment store. The rows to expect are counted in
    # the very snapshot pg_dump reads (the suite's other work goes on meanwhile).
    dump = tmp_path / "worktime.dump"
    live = await asyncpg.connect(source)
    try:
        async with live.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await live.fetchval("SELECT pg_export_snapshot()")
            before = await _rows_per_tenant(live)
            await _run(_pg_tool("pg_dump"), "-Fc", f"--snapshot={snapshot}", "-d", source, "-f", str(dump))
    finally:
        await live.close()
    store = Path(settings.storage_dir)
    with tarfile.open(tmp_path / "attachments.tar.gz", "w:gz") as archive:
        archive.add(store, arcname="attachments")

    admin = await asyncpg.connect(superuser)
    try:
        await admin.execute(f'CREATE DATABASE "{restored_db}" OWNER worktime_owner')
        # Restore: roles are the cluster's, so ownership, grants and row-level security come back as they were.
        await _run(_pg_tool("pg_restore"), "--exit-on-error", "-d", restored, str(dump))
        with tarfile.open(tmp_path / "attachments.tar.gz") as archive:
            archive.extractall(tmp_path / "restored", filter="data")

        env = {
            "WORKTIME_DATABASE_URL": _with_database(migrated["WORKTIME_DATABASE_URL"], restored_db),
            "WORKTIME_DATABASE_OWNER_URL": _with_database(migrated["WORKTIME_DATABASE_OWNER_URL"], restored_db),
        }
        run_cli("migrate", env=env)  # a restored older backup catches up; at head it changes nothing
        connection = await asyncpg.connect(restored)
        try:
            after = await _rows_per_tenant(connection)
            # The demo organizations' files are in the configured store (other tests upload to an S3 server).
            rows = await connection.fetch(
                "SELECT storage_key FROM task_attachments WHERE org_id = ANY($1)", list(demo_orgs.values())
            )
            keys = {row["storage_key"] for row in rows}
        finally:
            await connection.close()
        assert after == before
        for org_id in demo_orgs.values():
            assert after[("memberships", str(org_id))] > 0 and after[("audit_events", str(org_id))] > 0

        assert keys, "the seed has attachments"
        files = set(await LocalStorage(tmp_path / "restored" / "attachments").keys())
        assert keys <= files, f"attachments without their file after the restore: {sorted(keys - files)}"

        # The demo organizations' chains (tests elsewhere break other organizations' chains on purpose).
        for slug in demo_orgs:
            verified = run_cli("audit", "verify", "--org", slug, env=env, check=False)
            assert verified.returncode == 0 and verified.stdout.startswith("ok "), verified.stdout + verified.stderr
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{restored_db}" WITH (FORCE)')
        await admin.close()
