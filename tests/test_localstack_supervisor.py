"""deploy/localstack/ (supervisor.py) restarts a child that dies, with back-off, and `status` shows each one's state.

This drives the supervisor with a harmless child (`sleep`) in a scratch stack directory; no Postgres, Redis
or Keycloak is started. The real services go through the same code (see docs/local-stack.md).
"""

from __future__ import annotations

import os
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.infra import load_localstack


@pytest.fixture(scope="module")
def localstack() -> ModuleType:
    return load_localstack()


@pytest.fixture
def stack(localstack: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr(localstack.supervisor, "RESTART_BACKOFF_FIRST", 0.2)
    monkeypatch.setattr(localstack.supervisor, "RESTART_BACKOFF_CAP", 0.5)
    instance = localstack.LocalStack(f"supervisor-test-{uuid.uuid4().hex[:8]}")
    for directory in (instance.logs, instance.pids):
        directory.mkdir(parents=True)
    try:
        yield instance
    finally:
        for child in instance.children:
            localstack.terminate(child.info, child.proc, timeout=5)
        shutil.rmtree(instance.root, ignore_errors=True)


def _supervise_until(stack: Any, predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, [(c.name, c.state, c.restarts) for c in stack.children]
        stack.check_children()
        time.sleep(0.05)


def test_a_killed_child_is_restarted_with_back_off(stack: Any) -> None:
    child = stack.spawn("redis", ["sleep", "600"])
    first_pid = child.proc.pid
    assert stack.service_lines() == [f"# service redis running pid={first_pid} restarts=0"]

    os.kill(first_pid, signal.SIGKILL)
    _supervise_until(stack, lambda: child.state == "restarting")
    assert stack.service_lines() == [f"# service redis restarting pid={first_pid} restarts=0"]
    first_delay = child.restart_at - time.monotonic()
    assert 0 < first_delay <= 0.2

    _supervise_until(stack, lambda: child.state == "running")
    second_pid = child.proc.pid
    assert second_pid != first_pid and child.info.alive()
    assert child.restarts == 1
    assert stack.service_lines() == [f"# service redis running pid={second_pid} restarts=1"]
    assert (stack.pids / "redis.pid").read_text().count(str(second_pid)) == 1

    # Dying again soon doubles the delay, up to the cap.
    os.kill(second_pid, signal.SIGKILL)
    _supervise_until(stack, lambda: child.state == "restarting")
    assert 0.2 < child.restart_at - time.monotonic() <= 0.4
    _supervise_until(stack, lambda: child.state == "running" and child.restarts == 2)


def test_a_child_that_exits_cleanly_is_restarted_too(stack: Any) -> None:
    child = stack.spawn("serve-1", ["sh", "-c", "exit 0"])
    _supervise_until(stack, lambda: child.restarts >= 1)
    assert "restarts=" in stack.service_lines()[0]


def test_status_reports_a_dead_service_as_stopped(stack: Any, localstack: ModuleType) -> None:
    child = stack.spawn("postgres", ["sleep", "600"], group=False)
    os.kill(child.proc.pid, signal.SIGKILL)
    child.proc.wait()
    # The launcher has not looked yet (or is gone): status still tells the truth.
    assert stack.service_lines() == [f"# service postgres stopped pid={child.proc.pid} restarts=0"]
