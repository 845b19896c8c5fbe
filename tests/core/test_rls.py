"""Row-level security, checked through the runtime role (never the owner), both straight to Postgres
and through PgBouncer in transaction pooling mode, where consecutive transactions of one client share
server connections with other clients."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import Tokens, create_org, plain_dsn

PATHS = ["postgres", "pgbouncer"]


def _runtime_url(stack: dict[str, str], path: str) -> str:
    if path == "postgres":
        return stack["WORKTIME_DATABASE_URL"]
    # Always started by the stack script; its absence is a broken stack, not a reason to skip.
    assert "WORKTIME_PGBOUNCER_URL" in stack, "the stack has no PgBouncer (restart it with this checkout)"
    return stack["WORKTIME_PGBOUNCER_URL"]


@pytest.fixture(params=PATHS)
async def runtime_db(request: pytest.FixtureRequest, migrated: dict[str, str]) -> Any:
    # No statement cache: behind PgBouncer a named statement would meet another server connection.
    connection = await asyncpg.connect(plain_dsn(_runtime_url(migrated, request.param)), statement_cache_size=0)
    try:
        yield connection
    finally:
        await connection.close()


# Tables whose rows belong to a tenant but are keyed differently from org_id.
TENANT_TABLES_WITHOUT_ORG_ID = {"organizations"}


async def _rls_tables(connection: Any) -> list[dict[str, Any]]:
    rows = await connection.fetch(
        """
        SELECT c.relname AS table, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
               (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies,
               EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'org_id'
                       AND NOT a.attisdropped) AS has_org_id
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
        """
    )
    return [dict(row) for row in rows]


async def test_every_tenant_table_has_forced_rls_and_a_policy(owner_db: Any) -> None:
    tables = await _rls_tables(owner_db)
    tenant = [t for t in tables if t["has_org_id"] or t["table"] in TENANT_TABLES_WITHOUT_ORG_ID]
    assert len(tenant) >= 4
    offenders = [t["table"] for t in tenant if not (t["enabled"] and t["forced"] and t["policies"] > 0)]
    assert offenders == [], f"tenant tables without enabled+forced RLS and a policy: {offenders}"


async def test_no_tenant_setting_means_zero_rows(owner_db: Any, runtime_db: Any) -> None:
    tables = [t["table"] for t in await _rls_tables(owner_db) if t["enabled"]]
    assert "memberships" in tables and "users" in tables
    for table in tables:
        if not await runtime_db.fetchval("SELECT has_table_privilege(current_user, $1, 'SELECT')", table):
            # Write-only for the runtime role (the job outbox): it cannot read a single row, bound or not.
            continue
        owner_sees = await owner_db.fetchval(f"SELECT count(*) FROM {table}")
        # Pings, imports, exports (and the keys that sign them, and the scheduled runs that start them) and
        # webhook deliveries are made by jobs, offboarding's exports and deletion records by an owner leaving,
        # SCIM groups by an identity provider: never by the seed.
        made_by_jobs = {
            "diagnostic_pings", "time_imports", "exports", "export_signing_keys", "webhook_deliveries",
            "export_schedule_runs", "offboarding_exports", "org_deletions", "scim_groups", "scim_group_members",
        }  # fmt: skip
        assert owner_sees > 0 or table in made_by_jobs, f"seed data expected in {table}"
        # Also after the setting existed once in this session ('' rather than NULL).
        for prepare in (
            "",
            "SELECT set_config('app.org_id', '', false), set_config('app.user_id', '', false)",
        ):
            if prepare:
                await runtime_db.execute(prepare)
            assert await runtime_db.fetchval(f"SELECT count(*) FROM {table}") == 0, table


async def test_a_tenant_cannot_write_rows_for_another(runtime_db: Any, demo_orgs: dict[str, uuid.UUID]) -> None:
    acme, globex = demo_orgs["acme"], demo_orgs["globex"]
    async with runtime_db.transaction():
        await runtime_db.execute("SELECT set_config('app.org_id', $1, true)", str(acme))
        visible = await runtime_db.fetch("SELECT DISTINCT org_id FROM memberships")
        assert [row["org_id"] for row in visible] == [acme]
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await runtime_db.execute(
                "INSERT INTO diagnostic_pings (id, org_id, requested_by) "
                "VALUES ($1, $2, '7a1b0000-0000-4000-8000-000000000001')",
                uuid.uuid4(),
                globex,
            )
    async with runtime_db.transaction():
        await runtime_db.execute("SELECT set_config('app.org_id', $1, true)", str(acme))
        # Moving a row into another tenant is refused too (WITH CHECK on UPDATE).
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await runtime_db.execute("UPDATE memberships SET org_id = $1", globex)
    async with runtime_db.transaction():
        await runtime_db.execute("SELECT set_config('app.org_id', $1, true)", str(acme))
        # And another tenant's rows cannot even be targeted.
        assert await runtime_db.execute("DELETE FROM memberships WHERE org_id = $1", globex) == "DELETE 0"


async def test_tenant_setting_is_transaction_local(runtime_db: Any, demo_orgs: dict[str, uuid.UUID]) -> None:
    async with runtime_db.transaction():
        await runtime_db.execute("SELECT set_config('app.org_id', $1, true)", str(demo_orgs["acme"]))
        assert await runtime_db.fetchval("SELECT count(*) FROM memberships") > 0
    assert await runtime_db.fetchval("SELECT count(*) FROM memberships") == 0


@pytest.mark.parametrize("path", PATHS)
async def test_interleaved_requests_for_different_tenants_never_mix(
    settings: Any, tokens: Tokens, migrated: dict[str, str], path: str
) -> None:
    from backend.app import create_app

    small_pool = settings.model_copy(
        update={
            "database_pool_size": 2,
            "database_max_overflow": 0,
            "database_url": _runtime_url(migrated, path),
            "database_behind_pgbouncer": path == "pgbouncer",
        }
    )
    app = create_app(small_pool)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            alice, grace = await tokens.headers("alice"), await tokens.headers("grace")
            org_a = await create_org(http, alice, "Interleave A")
            org_b = await create_org(http, grace, "Interleave B")

            async def members(org: dict[str, Any], headers: dict[str, str]) -> tuple[str, set[str]]:
                response = await http.get(f"/api/v1/orgs/{org['id']}/members", headers=headers)
                assert response.status_code == 200, response.text
                return org["id"], {m["email"] for m in response.json()["items"]}

            calls = [members(org_a, alice) if i % 2 else members(org_b, grace) for i in range(60)]
            for org_id, emails in await asyncio.gather(*calls):
                expected = {"alice@acme.test"} if org_id == org_a["id"] else {"grace@globex.test"}
                assert emails == expected


async def test_pgbouncer_hands_one_server_connection_to_both_tenants_without_leaking(
    migrated: dict[str, str], demo_orgs: dict[str, uuid.UUID]
) -> None:
    """Two clients, one per tenant, take turns through PgBouncer. A server backend serving both tenants
    happens only under transaction pooling (a session pool or a direct connection pins each client to its
    own); each transaction still sees exactly its own tenant, and nothing when unbound."""
    url = plain_dsn(_runtime_url(migrated, "pgbouncer"))
    clients = [await asyncpg.connect(url, statement_cache_size=0) for _ in range(2)]
    served: dict[int, set[str]] = {}
    try:
        for i in range(40):
            client, org = clients[i % 2], ("acme", "globex")[i % 2]
            async with client.transaction():
                await client.execute("SELECT set_config('app.org_id', $1, true)", str(demo_orgs[org]))
                backend_pid = await client.fetchval("SELECT pg_backend_pid()")
                seen = {row["org_id"] for row in await client.fetch("SELECT DISTINCT org_id FROM memberships")}
                assert seen == {demo_orgs[org]}, (org, seen)
            served.setdefault(backend_pid, set()).add(org)
            async with client.transaction():
                assert await client.fetchval("SELECT count(*) FROM memberships") == 0
        assert any(len(orgs) == 2 for orgs in served.values()), served  # the pooler really shared them
    finally:
        for client in clients:
            await client.close()
