"""A real S3-compatible server for the storage tests: Versity's gateway (versitygw, Apache-2.0) over a
temporary directory. ``make s3gw`` builds it with the Go toolchain into .tools/ (``make test`` does so
first); this module builds it the same way if it is missing."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.infra import ROOT
from tests.smtp_sink import free_port

BUCKET = "worktime-test"


def binary() -> Path:
    makefile = (ROOT / "Makefile").read_text()
    match = re.search(r"^VERSITYGW_VERSION := (\S+)$", makefile, re.MULTILINE)
    assert match, "VERSITYGW_VERSION missing from the Makefile"
    path = ROOT / ".tools" / f"versitygw-{match.group(1)}" / "versitygw"
    if not path.exists():
        subprocess.run(["make", "-C", str(ROOT), "s3gw"], check=True, timeout=1800)
    return path


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    access_log: Path

    def settings(self) -> dict[str, object]:
        return {
            "storage_backend": "s3",
            "storage_s3_bucket": self.bucket,
            "storage_s3_endpoint": self.endpoint,
            "storage_s3_access_key_id": self.access_key,
            "storage_s3_secret_access_key": self.secret_key,
            "storage_s3_part_bytes": 5 * 1024 * 1024,
        }


@contextmanager
def s3_server() -> Iterator[S3Server]:
    root = Path(tempfile.mkdtemp(prefix="worktime-s3-"))
    (root / "data" / BUCKET).mkdir(parents=True)  # a posix-backed bucket is a top-level directory
    (root / "meta").mkdir()
    port = free_port()
    server = S3Server(
        f"http://127.0.0.1:{port}", BUCKET, "worktime-test", secrets.token_hex(16), access_log=root / "access.log"
    )
    env = {**os.environ, "ROOT_ACCESS_KEY": server.access_key, "ROOT_SECRET_KEY": server.secret_key}
    command = [
        str(binary()),
        "--port", f"127.0.0.1:{port}",
        "--access-log", str(server.access_log),
        "posix", "--sidecar", str(root / "meta"), str(root / "data"),
    ]  # fmt: skip
    with (root / "server.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(server.endpoint, timeout=1)  # any HTTP answer (403) means it is up
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"versitygw did not start: {(root / 'server.log').read_text()}") from None
                time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)
