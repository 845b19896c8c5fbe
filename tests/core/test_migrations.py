from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.conftest import plain_dsn, run_cli


@pytest.fixture
async def empty_database(migrated: dict[str, str]) -> Any:
    """A fresh database owned by the owner role, dropped afterwards."""
    name = f"worktime_migr_{uuid.uuid4().hex[:8]}"
    superuser = await asyncpg.connect(migrated["WORKTIME_DATABASE_SUPERUSER_URL"])
    await superuser.execute(f"CREATE DATABASE {name} OWNER worktime_owner")
    owner_url = migrated["WORKTIME_DATABASE_OWNER_URL"].rsplit("/", 1)[0] + f"/{name}"
    app_url = migrated["WORKTIME_DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"
    admin = await asyncpg.connect(plain_dsn(owner_url))
    await admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC; ALTER SCHEMA public OWNER TO worktime_owner")
    await admin.close()
    await superuser.execute(f"GRANT CONNECT ON DATABASE {name} TO worktime_app")
    try:
        yield {"WORKTIME_DATABASE_OWNER_URL": owner_url, "WORKTIME_DATABASE_URL": app_url}
    finally:
        await superuser.execute(f"DROP DATABASE {name} WITH (FORCE)")
        await superuser.close()


async def _tables(url: str) -> set[str]:
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row["tablename"] for row in rows}
    finally:
        await connection.close()


async def test_upgrade_to_head_and_downgrade_to_base(empty_database: dict[str, str]) -> None:
    run_cli("migrate", env=empty_database)
    assert {"users", "organizations", "memberships", "audit_events", "alembic_version"} <= await _tables(
        empty_database["WORKTIME_DATABASE_OWNER_URL"]
    )
    run_cli("migrate", "--downgrade", "base", env=empty_database)
    assert await _tables(empty_database["WORKTIME_DATABASE_OWNER_URL"]) == {"alembic_version"}
    run_cli("migrate", env=empty_database)  # and back up again: downgrade left nothing behind


def test_the_chain_is_linear_and_files_read_in_its_order() -> None:
    """One head, every revision with at most one parent and one child, and the file names sort in the
    chain's order (date, then the revision's number), so a newcomer reads them top to bottom."""
    from alembic.script import ScriptDirectory

    from backend.migrations import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config())
    assert len(scripts.get_heads()) == 1
    chain = list(reversed(list(scripts.walk_revisions())))  # base first
    assert all(not isinstance(script.down_revision, tuple) for script in chain), "a merge revision"
    assert [script.down_revision for script in chain] == [None, *[script.revision for script in chain[:-1]]]
    files = [Path(script.path).name for script in chain]
    assert files == sorted(files)
    assert [script.revision for script in chain] == [f"{n:04d}" for n in range(1, len(chain) + 1)]
    assert all(name.split("_")[3] == script.revision for name, script in zip(files, chain, strict=True))


@pytest.mark.parametrize(
    "ddl",
    [
        "CREATE TABLE intruder (id int)",
        "ALTER TABLE organizations ADD COLUMN intruder int",
        "DROP TABLE audit_events",
        "ALTER TABLE memberships DISABLE ROW LEVEL SECURITY",
        "CREATE POLICY open_door ON organizations USING (true)",
        "TRUNCATE audit_events",
    ],
)
async def test_the_runtime_role_cannot_change_the_schema(runtime_db: Any, ddl: str) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await runtime_db.execute(ddl)


async def test_the_runtime_role_is_not_privileged(runtime_db: Any) -> None:
    row = await runtime_db.fetchrow(
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user"
    )
    assert dict(row) == {
        "rolsuper": False,
        "rolbypassrls": False,
        "rolcreaterole": False,
        "rolcreatedb": False,
    }
    owns = await runtime_db.fetchval(
        "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = current_user"
    )
    assert owns == 0


def test_models_match_the_migrations(migrated: dict[str, str]) -> None:
    """Autogenerate finds nothing to do on a migrated database: models and migrations agree, so the next
    `makemigration` starts from a clean slate."""
    import asyncio

    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlmodel import SQLModel

    import backend.models  # noqa: F401

    async def diff() -> list[object]:
        engine = create_async_engine(migrated["WORKTIME_DATABASE_OWNER_URL"])
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: compare_metadata(
                        MigrationContext.configure(sync, opts={"compare_type": True}), SQLModel.metadata
                    )
                )
        finally:
            await engine.dispose()

    differences = asyncio.run(diff())
    assert differences == [], "\n".join(str(d)[:160] for d in differences)


async def test_projects_from_before_keys_get_one_and_keys_become_required(
    empty_database: dict[str, str], migrated: dict[str, str]
) -> None:
    """0011 backfills a key for projects created before 0005 (derived from the name as the service
    derives it, oldest first, unique per organization) and makes the column NOT NULL."""
    run_cli("migrate", "--revision", "0010", env=empty_database)
    name = empty_database["WORKTIME_DATABASE_OWNER_URL"].rsplit("/", 1)[1]
    superuser = await asyncpg.connect(migrated["WORKTIME_DATABASE_SUPERUSER_URL"].rsplit("/", 1)[0] + f"/{name}")
    first, second = uuid.uuid4(), uuid.uuid4()
    try:
        for org, slug in ((first, "first"), (second, "second")):
            await superuser.execute(
                "INSERT INTO organizations (id, slug, name) VALUES ($1, $2, $3)", org, f"{slug}-{org.hex[:6]}", slug
            )
        projects = [  # (org, name, key, minutes ago): key NULL as before 0005
            (first, "Website relaunch", None, 50),
            (first, "Web shop", None, 40),
            (first, "Keyed later", "WEBS2", 30),
            (first, "42", None, 20),
            (first, "x", None, 10),
            (second, "Website", None, 5),
        ]
        for org, project, key, ago in projects:
            await superuser.execute(
                "INSERT INTO projects (id, org_id, name, key, created_at) VALUES ($1, $2, $3, $4,"
                " now() - make_interval(mins => $5))",
                uuid.uuid4(),
                org,
                project,
                key,
                ago,
            )
        run_cli("migrate", env=empty_database)
        rows = await superuser.fetch("SELECT org_id, name, key FROM projects ORDER BY created_at")
        assert [(r["org_id"] == first, r["name"], r["key"]) for r in rows] == [
            (True, "Website relaunch", "WEBS"),
            (True, "Web shop", "WEBS3"),  # WEBS and WEBS2 were taken
            (True, "Keyed later", "WEBS2"),
            (True, "42", "PRJ"),
            (True, "x", "XPR"),
            (False, "Website", "WEBS"),  # keys are unique per organization
        ]
        with pytest.raises(asyncpg.NotNullViolationError):
            await superuser.execute(
                "INSERT INTO projects (id, org_id, name) VALUES ($1, $2, 'No key')", uuid.uuid4(), first
            )
        run_cli("migrate", "--downgrade", "0010", env=empty_database)  # and back: the keys stay
        assert await superuser.fetchval("SELECT count(*) FROM projects WHERE key IS NULL") == 0
    finally:
        await superuser.close()
