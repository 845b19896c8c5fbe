from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from tests.infra import ROOT
from tests.reports.conftest import org_team  # noqa: F401  (the same team as the reports' tests)

Worker = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def start_worker(migrated: dict[str, str]) -> Iterator[Worker]:
    """Real worker processes (``backend worker``), each in its own process group; stopped afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def start(**env: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "backend", "worker", "--threads", "2"],
            cwd=ROOT,
            env={**os.environ, **migrated, **env},
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
