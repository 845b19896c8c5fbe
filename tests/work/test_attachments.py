from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.core.storage import LocalStorage
from tests.conftest import Tokens

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
BOUNDARY = "worktime-test-boundary"


@pytest.fixture
async def small(settings: Any, tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, LocalStorage]]:
    """The API with a 1 KiB attachment limit and its own storage directory."""
    from backend.app import create_app

    app = create_app(settings.model_copy(update={"attachment_max_bytes": 1024, "storage_dir": str(tmp_path)}))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            yield http, app.state.storage


def _multipart(payload: bytes, filename: str = "big.bin") -> tuple[bytes, bytes]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + payload, f"\r\n--{BOUNDARY}--\r\n".encode()


async def _rows(owner_db: Any, org_id: str) -> int:
    return int(await owner_db.fetchval("SELECT count(*) FROM task_attachments WHERE org_id = $1::uuid", org_id))


async def test_upload_sniff_hash_download_and_delete(
    client: httpx.AsyncClient, app: Any, tokens: Tokens, team: dict[str, Any], owner_db: Any
) -> None:
    carol, dave, erin = await tokens.headers("carol"), await tokens.headers("dave"), await tokens.headers("erin")
    task = (await client.post(team["tasks"], json={"title": "Files"}, headers=carol)).json()
    url = f"{team['tasks']}/{task['id']}/attachments"
    # The client claims text; the bytes say PNG, and the bytes win.
    made = await client.post(url, files={"file": ("../../etc/shot.png", PNG, "text/plain")}, headers=dave)
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["content_type"], body["filename"], body["size_bytes"]) == ("image/png", "shot.png", len(PNG))
    assert body["sha256"] == hashlib.sha256(PNG).hexdigest()
    storage: LocalStorage = app.state.storage
    stored = await owner_db.fetchval("SELECT storage_key FROM task_attachments WHERE id = $1::uuid", body["id"])
    assert storage._path(stored).read_bytes() == PNG

    download = await client.get(f"{url}/{body['id']}/content", headers=erin)
    assert download.status_code == 200
    assert download.content == PNG
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"] == "attachment; filename*=UTF-8''shot.png"
    assert (await client.get(url, headers=erin)).json()["total"] == 1

    # An executable is refused whatever it claims to be; nothing is stored.
    before = len(storage.files())
    refused = await client.post(
        url, files={"file": ("x.png", b"\x7fELF\x02\x01\x01" + b"\x00" * 32, "image/png")}, headers=dave
    )
    assert refused.status_code == 415, refused.text
    assert refused.json()["content_type"] == "application/octet-stream"
    assert (await client.post(url, json={"file": "inline"}, headers=dave)).status_code == 415
    assert (await client.post(url, data={"other": "x"}, files={"nofile": ("a", b"a")}, headers=dave)).status_code == 422
    assert (await client.post(url, files={"file": ("a.txt", b"hi")}, headers=erin)).status_code == 403
    assert len(storage.files()) == before and await _rows(owner_db, team["org"]["id"]) == 1

    # Only the uploader or a lead deletes; the file goes with the row.
    alice_upload = (await client.post(url, files={"file": ("n.txt", b"note")}, headers=carol)).json()
    assert (await client.delete(f"{url}/{alice_upload['id']}", headers=dave)).status_code == 403
    assert (await client.delete(f"{url}/{body['id']}", headers=dave)).status_code == 204
    assert not storage._path(stored).exists()
    assert (await client.get(f"{url}/{body['id']}/content", headers=dave)).status_code == 404


async def test_comment_attachments_go_with_their_comment(
    client: httpx.AsyncClient, app: Any, tokens: Tokens, team: dict[str, Any], owner_db: Any
) -> None:
    carol, dave = await tokens.headers("carol"), await tokens.headers("dave")
    task = (await client.post(team["tasks"], json={"title": "Talk"}, headers=carol)).json()
    comments = f"{team['tasks']}/{task['id']}/comments"
    comment = (await client.post(comments, json={"body": "see file"}, headers=dave)).json()
    url = f"{comments}/{comment['id']}/attachments"
    assert (await client.post(url, files={"file": ("a.txt", b"a")}, headers=carol)).status_code == 403  # not hers
    made = await client.post(url, files={"file": ("a.txt", b"plain text")}, headers=dave)
    assert made.status_code == 201 and made.json()["comment_id"] == comment["id"]
    key = await owner_db.fetchval("SELECT storage_key FROM task_attachments WHERE id = $1::uuid", made.json()["id"])
    storage: LocalStorage = app.state.storage
    assert storage._path(key).exists()
    assert (await client.delete(f"{comments}/{comment['id']}", headers=carol)).status_code == 204
    assert not storage._path(key).exists()
    assert await _rows(owner_db, team["org"]["id"]) == 0


async def test_size_limit_and_interrupted_uploads_leave_nothing(
    small: tuple[httpx.AsyncClient, LocalStorage], tokens: Tokens, team: dict[str, Any], owner_db: Any
) -> None:
    http, storage = small
    carol = await tokens.headers("carol")
    task = (await http.post(team["tasks"], json={"title": "Big"}, headers=carol)).json()
    url = f"{team['tasks']}/{task['id']}/attachments"
    ok = await http.post(url, files={"file": ("fits.txt", b"x" * 1024)}, headers=carol)
    assert ok.status_code == 201, ok.text
    assert len(storage.files()) == 1

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
    assert len(storage.files()) == 1  # only the first, accepted file
    assert await _rows(owner_db, team["org"]["id"]) == 1


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
