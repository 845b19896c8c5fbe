from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator

import pytest

from tests.infra import start_worker as spawn_worker
from tests.infra import stop_worker
from tests.reports.conftest import org_team  # noqa: F401  (the same team as the reports' tests)

Worker = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def start_worker(migrated: dict[str, str]) -> Iterator[Worker]:
    """Real worker processes (``backend worker``), each in its own process group; stopped afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def start(**env: str) -> subprocess.Popen[bytes]:
        process = spawn_worker({**migrated, **env})
        started.append(process)
        return process

    yield start
    for process in started:
        stop_worker(process)
