"""Attachments through HTTP, on both storage backends: a local directory and a real S3-compatible server
(versitygw, tests/s3_server.py). Every test that touches files runs once per backend."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.core.storage import Storage
from tests.conftest import Tokens
from tests.s3_server import S3Server, s3_server

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
BOUNDARY = "worktime-test-boundary"


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


@dataclass
class Files:
    http: httpx.AsyncClient
    storage: Storage
    backend: str

    async def keys(self) -> list[str]:
        return await self.storage.keys()

    async def exists(self, key: str) -> bool:
        return key in await self.storage.keys()

    async def content(self, key: str) -> bytes:
        return b"".join([chunk async for chunk in self.storage.read(key)])


async def _files(
    settings: Any, tmp_path: Path, backend: str, s3: S3Server | None, **update: Any
) -> AsyncIterator[Files]:
    from backend.app import create_app

    overrides: dict[str, Any] = {"storage_dir": str(tmp_path), **update}
    if backend == "s3":
        assert s3 is not None
        # Each test its own prefix, so "nothing left behind" counts only this test's objects.
        overrides |= {**s3.settings(), "storage_s3_prefix": f"t-{uuid.uuid4().hex}"}
    app = create_app(settings.model_copy(update=overrides))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            yield Files(http, app.state.storage, backend)


@pytest.fixture(params=["local", "s3"])
async def files(request: pytest.FixtureRequest, settings: Any, tmp_path: Path) -> AsyncIterator[Files]:
    """The API on one storage backend, with its own (empty) store."""
    s3 = request.getfixturevalue("s3") if request.param == "s3" else None
    async for made in _files(settings, tmp_path, request.param, s3):
        yield made


@pytest.fixture(params=["local", "s3"])
async def small(request: pytest.FixtureRequest, settings: Any, tmp_path: Path) -> AsyncIterator[Files]:
    """The same with a 1 KiB attachment limit."""
    s3 = request.getfixturevalue("s3") if request.param == "s3" else None
    async for made in _files(settings, tmp_path, request.param, s3, attachment_max_bytes=1024):
        yield made


def _multipart(payload: bytes, filename: str = "big.bin") -> tuple[bytes, bytes]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + payload, f"\r\n--{BOUNDARY}--\r\n".encode()


async def _rows(owner_db: Any, org_id: str) -> int:
    return int(await owner_db.fetchval("SELECT count(*) FROM task_attachments WHERE org_id = $1::uuid", org_id))


async def test_upload_sniff_hash_download_and_delete(
    files: Files, tokens: Tokens, team: dict[str, Any], owner_db: Any
) -> None:
    client = files.http
    carol, dave, erin = await tokens.headers("carol"), await tokens.headers("dave"), await tokens.headers("erin")
    task = (await client.post(team["tasks"], json={"title": "Files"}, headers=carol)).json()
    url = f"{team['tasks']}/{task['id']}/attachments"
    # The client claims text; the bytes say PNG, and the bytes win.
    made = await client.post(url, files={"file": ("../../etc/shot.png", PNG, "text/plain")}, headers=dave)
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["content_type"], body["filename"], body["size_bytes"]) == ("image/png", "shot.png", len(PNG))
    assert body["sha256"] == hashlib.sha256(PNG).hexdigest()
    stored = await owner_db.fetchval("SELECT storage_key FROM task_attachments WHERE id = $1::uuid", body["id"])
    assert await files.content(stored) == PNG

    download = await client.get(f"{url}/{body['id']}/content", headers=erin)
    assert download.status_code == 200
    assert download.content == PNG
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"] == "attachment; filename*=UTF-8''shot.png"
    assert (await client.get(url, headers=erin)).json()["total"] == 1

    # An executable is refused whatever it claims to be; nothing is stored.
    before = await files.keys()
    refused = await client.post(
        url, files={"file": ("x.png", b"\x7fELF\x02\x01\x01" + b"\x00" * 32, "image/png")}, headers=dave
    )
    assert refused.status_code == 415, refused.text
    assert refused.json()["content_type"] == "application/octet-stream"
    assert (await client.post(url, json={"file": "inline"}, headers=dave)).status_code == 415
    assert (await client.post(url, data={"other": "x"}, files={"nofile": ("a", b"a")}, headers=dave)).status_code == 422
    assert (await client.post(url, files={"file": ("a.txt", b"hi")}, headers=erin)).status_code == 403
    assert await files.keys() == before and await _rows(owner_db, team["org"]["id"]) == 1

    # Only the uploader or a lead deletes; the file goes with the row.
    alice_upload = (await client.post(url, files={"file": ("n.txt", b"note")}, headers=carol)).json()
    assert (await client.delete(f"{url}/{alice_upload['id']}", headers=dave)).status_code == 403
    assert (await client.delete(f"{url}/{body['id']}", headers=dave)).status_code == 204
    assert not await files.exists(stored)
    assert (await client.get(f"{url}/{body['id']}/content", headers=dave)).status_code == 404


async def test_a_large_upload_streams_both_ways(
    files: Files, tokens: Tokens, team: dict[str, Any], s3: S3Server
) -> None:
    """11 MiB: more than two S3 parts (5 MiB each here), so the s3 backend uploads in multipart."""
    carol = await tokens.headers("carol")
    task = (await files.http.post(team["tasks"], json={"title": "Big"}, headers=carol)).json()
    url = f"{team['tasks']}/{task['id']}/attachments"
    payload = b"%PDF-1.7\n" + os.urandom(11 * 1024 * 1024)
    made = await files.http.post(url, files={"file": ("big.pdf", payload)}, headers=carol)
    assert made.status_code == 201, made.text
    assert made.json()["sha256"] == hashlib.sha256(payload).hexdigest()
    download = await files.http.get(f"{url}/{made.json()['id']}/content", headers=carol)
    assert hashlib.sha256(download.content).hexdigest() == made.json()["sha256"]
    if files.backend == "s3":
        assert "uploadId=" in s3.access_log.read_text()  # the parts went as a multipart upload


async def test_comment_attachments_go_with_their_comment(
    files: Files, tokens: Tokens, team: dict[str, Any], owner_db: Any
) -> None:
    client = files.http
    carol, dave = await tokens.headers("carol"), await tokens.headers("dave")
    task = (await client.post(team["tasks"], json={"title": "Talk"}, headers=carol)).json()
    comments = f"{team['tasks']}/{task['id']}/comments"
    comment = (await client.post(comments, json={"body": "see file"}, headers=dave)).json()
    url = f"{comments}/{comment['id']}/attachments"
    assert (await client.post(url, files={"file": ("a.txt", b"a")}, headers=carol)).status_code == 403  # not hers
    made = await client.post(url, files={"file": ("a.txt", b"plain text")}, headers=dave)
    assert made.status_code == 201 and made.json()["comment_id"] == comment["id"]
    key = await owner_db.fetchval("SELECT storage_key FROM task_attachments WHERE id = $1::uuid", made.json()["id"])
    assert await files.exists(key)
    assert (await client.delete(f"{comments}/{comment['id']}", headers=carol)).status_code == 204
    assert not await files.exists(key)
    assert await _rows(owner_db, team["org"]["id"]) == 0


async def test_size_limit_and_interrupted_uploads_leave_nothing(
    small: Files, tokens: Tokens, team: dict[str, Any], owner_db: Any
) -> None:
    http = small.http
    carol = await tokens.headers("carol")
    task = (await http.post(team["tasks"], json={"title": "Big"}, headers=carol)).json()
    url = f"{team['tasks']}/{task['id']}/attachments"
    ok = await http.post(url, files={"file": ("fits.txt", b"x" * 1024)}, headers=carol)
    assert ok.status_code == 201, ok.text
    assert len(await small.keys()) == 1

    # Declared too large: refused before a byte is read.
    declared = await http.post(url, files={"file": ("big.txt", b"x" * 40_000)}, headers=carol)
    assert declared.status_code == 413 and declared.json()["max_bytes"] == 1024

    # Streamed without a length: refused as soon as the count passes the limit.
    head, tail = _multipart(b"")

    async def endless() -> AsyncIterator[bytes]:
        yield head
        for _ in range(64):
            yield b"y" * 512
        yield tail

    headers = {**carol, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    streamed = await http.post(url, content=endless(), headers=headers)
    assert streamed.status_code == 413, streamed.text

    # The client goes away mid-upload.
    async def interrupted() -> AsyncIterator[bytes]:
        yield head
        yield b"z" * 300
        raise ConnectionResetError("client went away")

    try:
        broken = await http.post(url, content=interrupted(), headers=headers)
        assert broken.status_code >= 400
    except ConnectionResetError:
        pass
    assert len(await small.keys()) == 1  # only the first, accepted file
    assert await _rows(owner_db, team["org"]["id"]) == 1


# A deferred constraint trigger fails the commit itself, after the file was written and the row flushed.
_FAIL_AT_COMMIT = """
CREATE OR REPLACE FUNCTION test_fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (TG_OP = 'INSERT' AND NEW.filename LIKE 'fail-at-commit%')
            OR (TG_OP = 'DELETE' AND OLD.filename LIKE 'fail-at-commit%') THEN
        RAISE EXCEPTION 'forced failure at commit';
    END IF;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS test_fail_at_commit ON task_attachments;
CREATE CONSTRAINT TRIGGER test_fail_at_commit AFTER INSERT OR DELETE ON task_attachments
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_fail_at_commit();
"""


@pytest.fixture
async def failing_commits(owner_db: Any) -> AsyncIterator[None]:
    await owner_db.execute(_FAIL_AT_COMMIT)
    yield
    await owner_db.execute("DROP TRIGGER IF EXISTS test_fail_at_commit ON task_attachments")


async def test_a_failed_commit_leaves_no_file_and_keeps_a_deleted_rows_file(
    files: Files, failing_commits: None, tokens: Tokens, team: dict[str, Any], owner_db: Any
) -> None:
    http, org = files.http, team["org"]["id"]
    carol = await tokens.headers("carol")
    task = (await http.post(team["tasks"], json={"title": "Commit"}, headers=carol)).json()
    url = f"{team['tasks']}/{task['id']}/attachments"

    # The file is written and the row flushed; then the commit fails: neither is left.
    failed = await http.post(url, files={"file": ("fail-at-commit.txt", b"doomed")}, headers=carol)
    assert failed.status_code >= 500, failed.text
    assert await files.keys() == [] and await _rows(owner_db, org) == 0

    # A row whose deletion fails to commit keeps its file (the trigger fires on the delete only).
    await owner_db.execute("ALTER TABLE task_attachments DISABLE TRIGGER test_fail_at_commit")
    made = await http.post(url, files={"file": ("fail-at-commit-later.txt", b"kept")}, headers=carol)
    assert made.status_code == 201, made.text
    await owner_db.execute("ALTER TABLE task_attachments ENABLE TRIGGER test_fail_at_commit")
    key = await owner_db.fetchval("SELECT storage_key FROM task_attachments WHERE id = $1::uuid", made.json()["id"])
    refused = await http.delete(f"{url}/{made.json()['id']}", headers=carol)
    assert refused.status_code >= 500, refused.text
    assert await files.content(key) == b"kept" and await _rows(owner_db, org) == 1
    download = await http.get(f"{url}/{made.json()['id']}/content", headers=carol)
    assert download.status_code == 200 and download.content == b"kept"


async def test_other_tenants_do_not_reach_attachments(
    client: httpx.AsyncClient, tokens: Tokens, team: dict[str, Any]
) -> None:
    carol, grace = await tokens.headers("carol"), await tokens.headers("grace")
    task = (await client.post(team["tasks"], json={"title": "Mine"}, headers=carol)).json()
    url = f"{team['tasks']}/{task['id']}/attachments"
    made = (await client.post(url, files={"file": ("a.txt", b"secret")}, headers=carol)).json()
    assert (await client.get(f"{url}/{made['id']}/content", headers=grace)).status_code == 404
    assert (await client.post(url, files={"file": ("b.txt", b"b")}, headers=grace)).status_code == 404
    assert (await client.get(f"{url}/{uuid.uuid4()}", headers=carol)).status_code == 404


def _bytes_under(root: Path) -> int:
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB filesystem of its own (tmpfs, mounted as root) to fill up."""
    import subprocess

    mount = tmp_path / "tiny"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_a_full_disk_refuses_an_upload_with_507_and_keeps_nothing(
    settings: Any, full_disk: Path, tokens: Tokens, team: dict[str, Any], owner_db: Any
) -> None:
    carol, dave = await tokens.headers("carol"), await tokens.headers("dave")
    async for files in _files(settings, full_disk, "local", None):
        task = (await files.http.post(team["tasks"], json={"title": "Disk full"}, headers=carol)).json()
        url = f"{team['tasks']}/{task['id']}/attachments"
        rows = await _rows(owner_db, team["org"]["id"])
        refused = await files.http.post(url, files={"file": ("big.txt", b"x" * (2 << 20))}, headers=dave)
        assert refused.status_code == 507, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/insufficient-storage")
        assert "nothing was stored" in refused.json()["detail"]
        # Nothing half-written: no row, no file, no scratch left to fill the disk further.
        assert await _rows(owner_db, team["org"]["id"]) == rows
        assert await files.keys() == []
        assert _bytes_under(full_disk) == 0
        # With room again, the same store takes a file that fits.
        fits = await files.http.post(url, files={"file": ("small.txt", b"fits")}, headers=dave)
        assert fits.status_code == 201, fits.text
