"""File storage for attachments, behind a small interface, and tied to the database transaction.

An upload is streamed into a temporary file in the storage's own scratch directory (hashing, counting and
sniffing as it goes), then stored under a generated key: moved into place on a local directory, or sent
to an S3-compatible bucket (``WORKTIME_STORAGE_BACKEND=s3``) in multipart parts read from the scratch
file. Neither holds a whole upload in memory, and downloads stream in chunks.

Files follow the transaction that records them (:func:`put_in`, :func:`delete_after_commit`,
:func:`settle`): a file written during a unit of work stays pending until that unit commits and is
removed again if it rolls back (its commit failing included); a file whose row is deleted goes only
after the commit, so a failed commit never leaves a row without its bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

import structlog
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from backend.settings import Settings

CHUNK = 64 * 1024
log = structlog.get_logger(__name__)


class Storage(Protocol):
    def scratch(self) -> IO[bytes]:
        """A new local temporary file to stream an upload into."""
        ...

    async def put(self, key: str, scratch_path: str) -> None:
        """Store a finished scratch file under ``key``; the scratch file is gone afterwards, even on error."""
        ...

    def read(self, key: str) -> AsyncIterator[bytes]: ...

    async def delete(self, key: str) -> None:
        """Remove ``key``; a missing file is not an error."""
        ...

    async def keys(self) -> list[str]:
        """Every stored key and scratch file (tests check that nothing is left behind)."""
        ...


class LocalStorage:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.tmp = self.root / ".tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise ValueError(f"storage key escapes the store: {key!r}")
        return path

    def scratch(self) -> IO[bytes]:
        return tempfile.NamedTemporaryFile(dir=self.tmp, prefix="upload-", delete=False)

    async def put(self, key: str, scratch_path: str) -> None:
        target = self._path(key)

        def move() -> None:
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(scratch_path, target)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(scratch_path)

        await asyncio.to_thread(move)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self._path(key).open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            handle.close()

    async def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self._path(key).unlink)

    async def keys(self) -> list[str]:
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file())


class S3Storage:
    """An S3-compatible bucket through obstore (Rust's object_store): async, multipart for large files.

    obstore rather than boto3/aiobotocore: botocore pins python-dateutil below 3, and this project needs 4."""

    def __init__(self, settings: Settings) -> None:
        from obstore.store import S3Store

        if not settings.storage_s3_bucket:
            raise ValueError("WORKTIME_STORAGE_S3_BUCKET is required when WORKTIME_STORAGE_BACKEND=s3")
        options: dict[str, str] = {}
        if settings.storage_s3_endpoint:
            options["endpoint"] = settings.storage_s3_endpoint
        if settings.storage_s3_access_key_id:
            options["access_key_id"] = settings.storage_s3_access_key_id
            options["secret_access_key"] = settings.storage_s3_secret_access_key or ""
        self.store = S3Store(
            settings.storage_s3_bucket,
            prefix=settings.storage_s3_prefix or None,
            region=settings.storage_s3_region,
            virtual_hosted_style_request=not settings.storage_s3_path_style,
            client_options={"allow_http": bool(settings.storage_s3_endpoint.startswith("http://"))},
            **options,  # type: ignore[arg-type]
        )
        self.part_bytes = settings.storage_s3_part_bytes
        self.tmp = Path(settings.storage_dir).resolve() / ".tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def scratch(self) -> IO[bytes]:
        return tempfile.NamedTemporaryFile(dir=self.tmp, prefix="upload-", delete=False)

    async def put(self, key: str, scratch_path: str) -> None:
        import obstore

        try:
            # A file longer than one part goes as a multipart upload, read from disk part by part.
            await obstore.put_async(self.store, key, Path(scratch_path), chunk_size=self.part_bytes, max_concurrency=4)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(scratch_path)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        import obstore

        response = await obstore.get_async(self.store, key)
        async for chunk in response.stream(min_chunk_size=CHUNK):
            yield bytes(chunk)

    async def delete(self, key: str) -> None:
        import obstore

        # S3 deletes are idempotent: a missing key is not an error.
        await obstore.delete_async(self.store, key)

    async def keys(self) -> list[str]:
        import obstore

        stored = [meta["path"] async for batch in obstore.list(self.store) for meta in batch]
        scratch = [f".tmp/{p.name}" for p in self.tmp.iterdir() if p.is_file()]
        return sorted(stored + scratch)


def create_storage(settings: Settings) -> Storage:
    if settings.storage_backend == "s3":
        return S3Storage(settings)
    return LocalStorage(settings.storage_dir)


def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


# --- Files that follow the transaction ------------------------------------------------------------

_FILES = "worktime.storage.files"


@dataclass
class _FileChanges:
    pending: list[tuple[Storage, str]] = field(default_factory=list)
    doomed: list[tuple[Storage, str]] = field(default_factory=list)


def _changes(session: AsyncSession) -> _FileChanges:
    changes: _FileChanges = session.info.setdefault(_FILES, _FileChanges())
    return changes


async def put_in(session: AsyncSession, storage: Storage, key: str, scratch_path: str) -> None:
    """Store a file as part of ``session``'s transaction: it is pending until the commit, and removed
    again if the transaction rolls back. Registered before the write, so a write that fails half way
    (a multipart upload cut off) is cleaned up too."""
    _changes(session).pending.append((storage, key))
    await storage.put(key, scratch_path)


def delete_after_commit(session: AsyncSession, storage: Storage, key: str) -> None:
    """Remove a file once ``session``'s transaction has committed (its row is gone for good)."""
    _changes(session).doomed.append((storage, key))


async def settle(session: AsyncSession, *, committed: bool) -> None:
    """Called by the unit of work after its commit or rollback: drop what the outcome made obsolete.
    A failed removal is logged, never raised: the transaction's outcome is already decided."""
    changes: _FileChanges | None = session.info.pop(_FILES, None)
    if changes is None:
        return
    for storage, key in changes.doomed if committed else changes.pending:
        try:
            await asyncio.shield(storage.delete(key))
        except Exception:
            log.warning("storage.cleanup_failed", key=key, committed=committed, exc_info=True)


@dataclass
class Received:
    """A streamed upload in its scratch file."""

    path: str
    size: int = 0
    sha256: hashlib._Hash = field(default_factory=hashlib.sha256)
    head: bytes = b""


# Magic numbers of the types we accept; text is recognised by decoding its head.
_MAGIC: list[tuple[bytes, int, str]] = [
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"%PDF-", 0, "application/pdf"),
    (b"PK\x03\x04", 0, "application/zip"),
]


def sniff(head: bytes) -> str:
    """The content type the bytes themselves show (never the client's claim)."""
    for magic, offset, mime in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head and b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            # The head may end inside a multi-byte character.
            if exc.start < len(head) - 3:
                return "application/octet-stream"
        return "text/plain"
    return "application/octet-stream"
