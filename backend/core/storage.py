"""File storage for attachments, behind a small interface.

An upload is streamed into a temporary file in the storage's own scratch directory (hashing and counting
as it goes), then moved into place under a generated key. Only a local directory is implemented; an
S3-compatible backend would implement the same four methods (``WORKTIME_STORAGE_BACKEND``).
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

from fastapi import Request

from backend.settings import Settings

CHUNK = 64 * 1024


class Storage(Protocol):
    def scratch(self) -> IO[bytes]:
        """A new temporary file to stream an upload into (same filesystem as the store)."""
        ...

    async def put(self, key: str, scratch_path: str) -> None:
        """Move a finished scratch file into place under ``key``."""
        ...

    def read(self, key: str) -> AsyncIterator[bytes]: ...

    async def delete(self, key: str) -> None:
        """Remove ``key``; a missing file is not an error."""
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
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(scratch_path, target)

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

    def files(self) -> list[Path]:
        """Every stored or scratch file (tests check that nothing is left behind)."""
        return [p for p in self.root.rglob("*") if p.is_file()]


def create_storage(settings: Settings) -> Storage:
    return LocalStorage(settings.storage_dir)


def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


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
