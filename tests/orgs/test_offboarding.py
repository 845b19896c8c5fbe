"""Tenant offboarding end to end against the real stack: the full-data export (every tenant table's rows,
the attachments' bytes, a signed manifest that verifies), scheduling and cancelling the deletion, and the
purge: nothing of the organization left in Postgres (checked as the superuser, over every table with an
org_id), storage or Keycloak, other organizations untouched, the record kept in org_deletions."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import os
import subprocess
import time
import uuid
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import DEMO_IDS, Keycloak, Tokens, add_member, create_org, plain_dsn, run_cli
from tests.infra import start_worker as spawn_worker
from tests.infra import stop_worker

Worker = Callable[..., subprocess.Popen[bytes]]

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(256)


@dataclass
class Tenant:
    org: dict[str, Any]
    owner: str
    owner_id: uuid.UUID
    base: str
    attachment: bytes
    project: str

    @property
    def id(self) -> str:
        return str(self.org["id"])


@pytest.fixture
def start_worker(migrated: dict[str, str]) -> Iterator[Worker]:
    """Real worker processes (``backend worker``), stopped afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def start(**env: str) -> subprocess.Popen[bytes]:
        process = spawn_worker({**migrated, **env})
        started.append(process)
        return process

    yield start
    for process in started:
        stop_worker(process)


@pytest.fixture
async def superuser_db(migrated: dict[str, str]) -> AsyncIterator[Any]:
    """Beyond row-level security: what is really left in the database."""
    url = migrated.get("WORKTIME_DATABASE_SUPERUSER_URL") or os.environ["WORKTIME_DATABASE_SUPERUSER_URL"]
    connection = await asyncpg.connect(plain_dsn(url).rsplit("/", 1)[0] + "/worktime")
    try:
        yield connection
    finally:
        await connection.close()


async def _tenant(client: httpx.AsyncClient, tokens: Tokens, keycloak: Keycloak, owner_db: Any) -> Tenant:
    """A fresh person who owns a fresh organization full of data; bob (who belongs to other organizations
    too) is its admin, dave a member."""
    username = f"offb-{uuid.uuid4().hex[:10]}"
    owner_id = await keycloak.create_user(username)
    tokens.passwords[username] = "Pa55-word-for-tests"
    headers = await tokens.headers(username)
    org = await create_org(client, headers, "Leaving Co")
    for name, role in (("bob", "admin"), ("dave", "member")):
        await add_member(owner_db, org["id"], DEMO_IDS[name], role)
    base = f"/api/v1/orgs/{org['id']}"
    key = "O" + uuid.uuid4().hex[:4].upper()
    project = await client.post(f"{base}/projects", json={"name": "Website", "key": key}, headers=headers)
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    put = await client.put(
        f"{base}/projects/{project_id}/members/{DEMO_IDS['dave']}", json={"role": "contributor"}, headers=headers
    )
    assert put.status_code == 200, put.text
    task = await client.post(f"{base}/projects/{project_id}/tasks", json={"title": "Files"}, headers=headers)
    assert task.status_code == 201, task.text
    upload = await client.post(
        f"{base}/projects/{project_id}/tasks/{task.json()['id']}/attachments",
        files={"file": ("shot.png", PNG, "image/png")},
        headers=headers,
    )
    assert upload.status_code == 201, upload.text
    note = await client.post(f"{base}/notes", json={"title": "Private", "body": "only mine"}, headers=headers)
    assert note.status_code == 201, note.text
    entry = await client.post(
        f"{base}/time-entries",
        json={"project_id": project_id, "start_at": "2026-11-02T09:00:00Z", "end_at": "2026-11-02T11:00:00Z"},
        headers=await tokens.headers("dave"),
    )
    assert entry.status_code == 201, entry.text
    return Tenant(org, username, owner_id, base, PNG, project_id)


@pytest.fixture
async def tenant(client: httpx.AsyncClient, tokens: Tokens, keycloak: Keycloak, owner_db: Any) -> Tenant:
    return await _tenant(client, tokens, keycloak, owner_db)


async def _tenant_tables(connection: Any) -> list[str]:
    rows = await connection.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1"
    )
    return [row[0] for row in rows]


async def _counts(connection: Any, org_id: str) -> dict[str, int]:
    counts = {
        "organizations": int(
            await connection.fetchval("SELECT count(*) FROM organizations WHERE id = $1::uuid", org_id)
        )
    }
    for table in await _tenant_tables(connection):
        counts[table] = int(
            await connection.fetchval(f'SELECT count(*) FROM "{table}" WHERE org_id = $1::uuid', org_id)
        )
    return counts


async def _wait(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], until: str, seconds: float = 90
) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        body = (await client.get(url, headers=headers)).json()
        if body.get("status") == until or time.monotonic() > deadline:
            assert body.get("status") == until, body
            return dict(body)
        await asyncio.sleep(0.5)


async def _export(
    client: httpx.AsyncClient, tokens: Tokens, tenant: Tenant, start_worker: Worker, **env: str
) -> tuple[dict[str, Any], bytes]:
    headers = await tokens.headers(tenant.owner)
    made = await client.post(f"{tenant.base}/offboarding/export", headers=headers)
    assert made.status_code == 202, made.text
    start_worker(**env)
    url = f"{tenant.base}/offboarding/exports/{made.json()['id']}"
    done = await _wait(client, url, headers, "done")
    link = await client.get(f"{url}/link", headers=headers)
    assert link.status_code == 200, link.text
    # The signed link alone (no token) downloads the zip.
    download = await client.get(link.json()["url"].replace("http://api.test", ""))
    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == "application/zip"
    assert hashlib.sha256(download.content).hexdigest() == done["sha256"]
    return done, download.content


async def test_the_export_holds_every_tables_rows_and_the_attachments_and_its_manifest_verifies(
    client: httpx.AsyncClient, tokens: Tokens, tenant: Tenant, start_worker: Worker, superuser_db: Any
) -> None:
    from backend.exports.signing import signature_valid

    headers = await tokens.headers(tenant.owner)
    # Only the owner: bob is an admin here.
    refused = await client.post(f"{tenant.base}/offboarding/export", headers=await tokens.headers("bob"))
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")

    done, archive_bytes = await _export(client, tokens, tenant, start_worker)
    archive = zipfile.ZipFile(io.BytesIO(archive_bytes))
    manifest = json.loads(archive.read("manifest.json"))
    assert done["manifest"] == manifest
    assert hashlib.sha256(archive.read("manifest.json")).hexdigest() == done["manifest_sha256"]

    # Signed by the organization's published export key.
    key = (await client.get(f"{tenant.base}/exports/signing-key", headers=headers)).json()
    assert manifest["signature"]["key_id"] == key["key_id"]
    assert signature_valid(manifest, base64.b64decode(key["public_key"]))
    tampered = {**manifest, "tables": {**manifest["tables"], "notes": {"file": "x", "rows": 0}}}
    assert not signature_valid(tampered, base64.b64decode(key["public_key"]))

    # Every file is what the manifest says, byte for byte.
    names = set(archive.namelist()) - {"manifest.json"}
    assert names == set(manifest["files"])
    for name, described in manifest["files"].items():
        data = archive.read(name)
        assert hashlib.sha256(data).hexdigest() == described["sha256"], name
        assert len(data) == described["size_bytes"], name

    # Every table with org_id, with exactly the organization's rows (the superuser's count, past RLS).
    # The trail, its anchors and the job queue grew since the export was read (its own completion and
    # download events): there every exported row must still be there, and the rest came later.
    truth = await _counts(superuser_db, tenant.id)
    growing = {"audit_events", "audit_anchors", "outbox"}
    assert set(manifest["tables"]) == set(truth)
    for table, described in manifest["tables"].items():
        lines = archive.read(described["file"]).decode().splitlines()
        assert len(lines) == described["rows"], table
        rows = [json.loads(line) for line in lines]
        assert all((row.get("org_id") or row.get("id")) == tenant.id for row in rows), table
        if table in growing:
            ids = [str(row["id"]) for row in rows]
            present = await superuser_db.fetchval(
                f'SELECT count(*) FROM "{table}" WHERE org_id = $1::uuid AND id::text = ANY($2::text[])', tenant.id, ids
            )
            assert present == len(ids) <= truth[table], table
        else:
            assert described["rows"] == truth[table], (table, described["rows"], truth[table])
    assert manifest["tables"]["audit_events"]["rows"] >= 5
    for table in ("projects", "tasks", "task_attachments", "notes", "time_entries", "memberships"):
        assert manifest["tables"][table]["rows"] >= 1, table
    notes = [json.loads(line) for line in archive.read("tables/notes.jsonl").decode().splitlines()]
    assert [n["title"] for n in notes] == ["Private"]  # a person's private note is the organization's data too

    # The attachment's bytes.
    [attachment] = manifest["attachments"]
    assert archive.read(attachment["file"]) == tenant.attachment
    assert attachment["sha256"] == hashlib.sha256(tenant.attachment).hexdigest()

    # Audited.
    events = (
        await client.get(f"{tenant.base}/audit-events", params={"action": "offboarding_export."}, headers=headers)
    ).json()
    assert {e["action"] for e in events["items"]} >= {"offboarding_export.requested", "offboarding_export.completed"}


async def test_schedule_archives_at_once_and_cancel_restores(
    client: httpx.AsyncClient, tokens: Tokens, tenant: Tenant, owner_db: Any
) -> None:
    headers = await tokens.headers(tenant.owner)
    nothing = await client.get(f"{tenant.base}/offboarding", headers=headers)
    assert nothing.status_code == 200 and nothing.json() == {"deletion": None, "grace_days": 30}
    bob = await client.post(f"{tenant.base}/offboarding", headers=await tokens.headers("bob"))
    assert bob.status_code == 403, bob.text

    scheduled = await client.post(f"{tenant.base}/offboarding", headers=headers)
    assert scheduled.status_code == 201, scheduled.text
    body = scheduled.json()
    assert body["status"] == "scheduled"
    from datetime import datetime, timedelta

    grace = datetime.fromisoformat(body["purge_after"]) - datetime.fromisoformat(body["scheduled_at"])
    assert grace == timedelta(days=30)
    assert (await client.get(f"{tenant.base}/offboarding", headers=headers)).json()["deletion"] == body
    org = (await client.get(tenant.base, headers=headers)).json()
    assert org["archived_at"] is not None
    frozen = await client.post(f"{tenant.base}/projects", json={"name": "More", "key": "MORE"}, headers=headers)
    assert frozen.status_code == 409, frozen.text
    again = await client.post(f"{tenant.base}/offboarding", headers=headers)
    assert again.status_code == 409, again.text
    # The export still works in the grace period (it is a read).
    assert (await client.post(f"{tenant.base}/offboarding/export", headers=headers)).status_code == 202

    assert (await client.delete(f"{tenant.base}/offboarding", headers=await tokens.headers("bob"))).status_code == 403
    cancelled = await client.delete(f"{tenant.base}/offboarding", headers=headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert (await client.get(tenant.base, headers=headers)).json()["archived_at"] is None
    made = await client.post(f"{tenant.base}/projects", json={"name": "More", "key": "MORE"}, headers=headers)
    assert made.status_code == 201, made.text
    assert (await client.delete(f"{tenant.base}/offboarding", headers=headers)).status_code == 404
    record = await owner_db.fetchrow(
        "SELECT status, cancelled_by FROM org_deletions WHERE organization_id = $1::uuid", tenant.id
    )
    assert record["status"] == "cancelled" and record["cancelled_by"] == tenant.owner_id
    actions = {
        e["action"]
        for e in (
            await client.get(f"{tenant.base}/audit-events", params={"action": "organization."}, headers=headers)
        ).json()["items"]
    }
    assert {"organization.deletion_scheduled", "organization.deletion_cancelled", "organization.archived"} <= actions


async def _keycloak_admin(keycloak: Keycloak, method: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.request(
            method,
            f"{keycloak.url}/admin/realms/{keycloak.realm}{path}",
            headers={"Authorization": f"Bearer {await keycloak.admin_token()}"},
        )


async def _keycloak_org(keycloak: Keycloak, org_id: str) -> list[dict[str, Any]]:
    found = await _keycloak_admin(
        keycloak, "GET", f"/organizations?q=worktime_org_id:{org_id}&briefRepresentation=false"
    )
    assert found.status_code == 200, found.text
    return [o for o in found.json() if o.get("alias") == org_id]


async def test_the_purge_leaves_nothing_and_records_the_deletion(
    client: httpx.AsyncClient,
    tokens: Tokens,
    keycloak: Keycloak,
    tenant: Tenant,
    start_worker: Worker,
    owner_db: Any,
    superuser_db: Any,
    settings: Any,
    demo_orgs: dict[str, uuid.UUID],
) -> None:
    from backend.core.storage import create_storage

    headers = await tokens.headers(tenant.owner)
    # One worker for the export and, later, the purge: its scheduled tick offers the purge every second.
    done, _ = await _export(client, tokens, tenant, start_worker, WORKTIME_OFFBOARDING_INTERVAL_SECONDS="1")
    assert await _keycloak_org(keycloak, tenant.id), "the organization has its Keycloak copy"
    # An identity provider linked to it (the stack's customer realm).
    from tests.routes import SSO_PROVIDER

    provider = await client.post(f"{tenant.base}/sso/providers", json=SSO_PROVIDER, headers=headers)
    assert provider.status_code == 201, provider.text
    idp = f"/identity-provider/instances/{provider.json()['idp_alias']}"
    assert (await _keycloak_admin(keycloak, "GET", idp)).status_code == 200
    storage = create_storage(settings)
    assert [k for k in await storage.keys() if k.startswith(f"{tenant.id}/")]
    export_dir = Path(settings.export_dir) / tenant.id
    assert export_dir.exists()
    acme_before = await _counts(superuser_db, str(demo_orgs["acme"]))

    assert (await client.post(f"{tenant.base}/offboarding", headers=headers)).status_code == 201
    before = await _counts(superuser_db, tenant.id)
    # The grace period is over (the operator's clock, not the API: nobody can shorten it through the API).
    await owner_db.execute(
        "UPDATE org_deletions SET purge_after = now() - interval '1 second' WHERE organization_id = $1::uuid"
        " AND status = 'scheduled'",
        tenant.id,
    )
    # No CLI: the worker's scheduled tick purges it.
    deadline = time.monotonic() + 90
    while True:
        record = await owner_db.fetchrow("SELECT * FROM org_deletions WHERE organization_id = $1::uuid", tenant.id)
        if record["status"] == "purged" or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert record["status"] == "purged", (record["status"], record["last_error"])

    # Postgres: not one row with the organization's id in any table that has an org_id, past RLS.
    after = await _counts(superuser_db, tenant.id)
    assert after == dict.fromkeys(after, 0), {t: n for t, n in after.items() if n}
    assert set(after) == set(before)
    # Storage: no object under its prefix, no export file.
    assert [k for k in await storage.keys() if k.startswith(f"{tenant.id}/")] == []
    assert not export_dir.exists()
    # Keycloak: no such organization; the owner (in no other organization) is gone, bob and dave stay.
    assert await _keycloak_org(keycloak, tenant.id) == []
    assert (await _keycloak_admin(keycloak, "GET", idp)).status_code == 404
    assert json.loads(record["keycloak"])["idps_removed"] == [provider.json()["idp_alias"]]
    assert (await _keycloak_admin(keycloak, "GET", f"/users/{tenant.owner_id}")).status_code == 404
    for name in ("bob", "dave"):
        assert (await _keycloak_admin(keycloak, "GET", f"/users/{DEMO_IDS[name]}")).status_code == 200
    assert await superuser_db.fetchval("SELECT count(*) FROM users WHERE id = $1", tenant.owner_id) == 0
    assert await superuser_db.fetchval("SELECT count(*) FROM users WHERE id = $1", DEMO_IDS["bob"]) == 1
    # The API knows it no more.
    gone = await client.get(tenant.base, headers=await tokens.headers("bob"))
    assert gone.status_code == 404, gone.text
    # Another organization is untouched.
    acme_after = await _counts(superuser_db, str(demo_orgs["acme"]))
    for table in ("memberships", "projects", "tasks", "time_entries", "notes", "clients"):
        assert acme_after[table] == acme_before[table], table

    # The record, outside the deleted tenant.
    counts = json.loads(record["counts"])
    assert counts["organizations"] == 1
    for table in ("projects", "tasks", "task_attachments", "notes", "time_entries", "memberships"):
        assert counts[table] == before[table] >= 1, table
    assert record["export_manifest_sha256"] == done["manifest_sha256"]
    assert record["requested_by"] == tenant.owner_id and record["purged_at"] is not None
    assert record["storage_objects"] >= 1
    listed = run_cli("orgs", "deletions")
    line = next(line for line in listed.stdout.splitlines() if tenant.id in line)
    assert line.startswith("purged") and done["manifest_sha256"] in line
    as_json = json.loads(run_cli("orgs", "deletions", "--json").stdout)
    assert any(r["organization_id"] == tenant.id and r["counts"]["tasks"] == before["tasks"] for r in as_json)


class _KeycloakDown:
    """A directory whose Keycloak is unreachable: the purge stops after the database step."""

    async def delete_idp(self, alias: str) -> bool:
        raise ConnectionError("keycloak down")

    async def forget(self, org_id: uuid.UUID) -> bool:
        raise ConnectionError("keycloak down")

    async def delete_account(self, user_id: uuid.UUID) -> bool:
        raise ConnectionError("keycloak down")


async def test_a_purge_interrupted_midway_is_resumed_by_the_next_tick(
    client: httpx.AsyncClient,
    tokens: Tokens,
    keycloak: Keycloak,
    tenant: Tenant,
    owner_db: Any,
    superuser_db: Any,
    settings: Any,
) -> None:
    from backend.orgs import offboarding

    headers = await tokens.headers(tenant.owner)
    assert (await client.post(f"{tenant.base}/offboarding", headers=headers)).status_code == 201
    # Not due yet: the tick leaves it alone.
    assert not [o for o in await offboarding.purge_due(settings) if str(o.organization_id) == tenant.id]
    await owner_db.execute(
        "UPDATE org_deletions SET purge_after = now() WHERE organization_id = $1::uuid AND status = 'scheduled'",
        tenant.id,
    )
    before = await _counts(superuser_db, tenant.id)
    down: Any = _KeycloakDown()
    first = [o for o in await offboarding.purge_due(settings, directory=down) if str(o.organization_id) == tenant.id]
    assert len(first) == 1 and not first[0].done and "keycloak down" in (first[0].error or "")
    record = await owner_db.fetchrow("SELECT * FROM org_deletions WHERE organization_id = $1::uuid", tenant.id)
    assert record["status"] == "purging" and record["rows_purged_at"] is not None and record["last_error"]
    assert sum((await _counts(superuser_db, tenant.id)).values()) == 0
    assert await _keycloak_org(keycloak, tenant.id), "Keycloak's copy is still there after the crash"

    resumed = [o for o in await offboarding.purge_due(settings) if str(o.organization_id) == tenant.id]
    assert len(resumed) == 1 and resumed[0].done, resumed
    record = await owner_db.fetchrow("SELECT * FROM org_deletions WHERE organization_id = $1::uuid", tenant.id)
    assert record["status"] == "purged" and record["last_error"] is None and record["attempts"] == 2
    # The first attempt's counts are kept.
    assert json.loads(record["counts"])["tasks"] == before["tasks"]
    assert await _keycloak_org(keycloak, tenant.id) == []
    # A third tick finds nothing to do.
    assert not [o for o in await offboarding.purge_due(settings) if str(o.organization_id) == tenant.id]


async def test_every_tenant_table_lets_the_purge_delete_and_only_the_owner_role(owner_db: Any) -> None:
    """A table added without ``purge_policy`` would stop every purge: caught here first."""
    rows = await owner_db.fetch(
        "SELECT c.relname AS table, p.polroles::regrole[]::text[] AS roles, p.polcmd FROM pg_class c"
        " JOIN pg_policy p ON p.polrelid = c.oid AND p.polname = 'offboarding_purge'"
        " WHERE c.relnamespace = 'public'::regnamespace"
    )
    policies = {row["table"]: row for row in rows}
    owner = await owner_db.fetchval("SELECT current_user")
    for table in [*await _tenant_tables(owner_db), "organizations"]:
        assert table in policies, f"{table} has no offboarding_purge policy (backend/core/rls.py purge_policy)"
        assert policies[table]["roles"] == [owner] and policies[table]["polcmd"] in ("d", b"d"), table


async def test_the_purge_setting_gives_the_runtime_role_nothing(
    runtime_db: Any, demo_orgs: dict[str, uuid.UUID]
) -> None:
    acme = str(demo_orgs["acme"])
    async with runtime_db.transaction():
        await runtime_db.execute("SELECT set_config('app.purge_org_id', $1, true)", acme)
        assert await runtime_db.fetchval("SELECT count(*) FROM projects WHERE org_id = $1::uuid", acme) == 0
        assert await runtime_db.execute("DELETE FROM projects WHERE org_id = $1::uuid", acme) == "DELETE 0"
        assert await runtime_db.execute("DELETE FROM organizations WHERE id = $1::uuid", acme) == "DELETE 0"
        with pytest.raises(asyncpg.PostgresError):
            await runtime_db.execute("DELETE FROM audit_anchors WHERE org_id = $1::uuid", acme)


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    from tests.s3_server import s3_server

    with s3_server() as server:
        yield server


async def test_on_s3_storage_the_export_reads_the_bucket_and_the_purge_empties_the_prefix(
    settings: Any, tokens: Tokens, keycloak: Keycloak, owner_db: Any, s3: Any
) -> None:
    """The same on an S3-compatible bucket (versitygw): the job and the tick in process, on the API's store."""
    from backend.app import create_app
    from backend.orgs import offboarding

    on_s3 = settings.model_copy(update={**s3.settings(), "storage_s3_prefix": f"t-{uuid.uuid4().hex}"})
    app = create_app(on_s3)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            tenant = await _tenant(http, tokens, keycloak, owner_db)
            storage = app.state.storage
            assert type(storage).__name__ == "S3Storage"
            assert [k for k in await storage.keys() if k.startswith(f"{tenant.id}/")]
            headers = await tokens.headers(tenant.owner)
            made = await http.post(f"{tenant.base}/offboarding/export", headers=headers)
            assert made.status_code == 202, made.text
            await offboarding.run_export(uuid.UUID(tenant.id), uuid.UUID(made.json()["id"]), storage=storage)
            done = (await http.get(f"{tenant.base}/offboarding/exports/{made.json()['id']}", headers=headers)).json()
            assert done["status"] == "done", done
            zipped = await http.get(f"{tenant.base}/offboarding/exports/{done['id']}/download", headers=headers)
            archive = zipfile.ZipFile(io.BytesIO(zipped.content))
            [attachment] = done["manifest"]["attachments"]
            assert archive.read(attachment["file"]) == tenant.attachment

            assert (await http.post(f"{tenant.base}/offboarding", headers=headers)).status_code == 201
            await owner_db.execute(
                "UPDATE org_deletions SET purge_after = now()"
                " WHERE organization_id = $1::uuid AND status = 'scheduled'",
                tenant.id,
            )
            outcomes = await offboarding.purge_due(on_s3, storage=storage)
            assert [o.done for o in outcomes if str(o.organization_id) == tenant.id] == [True], outcomes
            assert [k for k in await storage.keys() if k.startswith(f"{tenant.id}/")] == []
            assert await _keycloak_org(keycloak, tenant.id) == []
