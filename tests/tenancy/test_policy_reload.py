"""The policy can be reloaded without a restart: in every API process and worker, by command or signal."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from backend.core.authz import RELOAD_CHANNEL, Authorizer
from backend.tenancy import guard
from tests.conftest import run_cli
from tests.infra import ROOT


def test_reload_reads_the_changed_file_and_keeps_the_old_policy_when_broken(tmp_path: Path) -> None:
    policy = tmp_path / "policy.csv"
    shutil.copy(guard.POLICY_PATH, policy)
    authorizer = Authorizer(policy)
    assert not authorizer.is_allowed("org:member", "audit:read")

    policy.write_text(policy.read_text() + "\np, org:member, audit, read\n")
    assert not authorizer.is_allowed("org:member", "audit:read")  # memoised until reloaded
    authorizer.reload()
    assert authorizer.is_allowed("org:member", "audit:read") and authorizer.version == 1

    model = tmp_path / "model.conf"
    model.write_text("this is not a casbin model")
    broken = Authorizer(policy, model_path=model)
    with pytest.raises(Exception):  # noqa: B017  (casbin raises its own parse errors)
        broken.reload()
    assert authorizer.is_allowed("org:member", "audit:read")


async def _wait_for(condition: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_the_reload_command_reaches_the_api_and_a_worker(app: FastAPI, migrated: dict[str, str]) -> None:
    worker = subprocess.Popen(  # noqa: ASYNC220  (a real worker process, started once)
        [sys.executable, "-m", "backend", "worker", "--threads", "1"],
        cwd=ROOT,
        env={**os.environ, **migrated, "WORKTIME_LOG_JSON": "true"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        # Wait until both listeners (this process's API and the worker) have subscribed.
        redis = Redis.from_url(migrated["WORKTIME_REDIS_URL"])
        try:

            async def listeners() -> int:
                ((_, count),) = await redis.pubsub_numsub(RELOAD_CHANNEL)
                return int(count)

            deadline = time.monotonic() + 60
            while await listeners() < 2 and time.monotonic() < deadline:
                assert worker.poll() is None, "the worker exited"
                await asyncio.sleep(0.2)
        finally:
            await redis.aclose()
        before = guard.policy.version
        result = run_cli("authz", "reload")
        # This process runs the API (the session's app) and subscribed in its lifespan; the worker too.
        assert "sent to" in result.stdout
        receivers = int(result.stdout.split("sent to ")[1].split()[0])
        assert receivers >= 2, result.stdout
        assert await _wait_for(lambda: guard.policy.version > before)
        # SIGHUP reloads one process locally.
        os.kill(worker.pid, signal.SIGHUP)
        await asyncio.sleep(1)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    assert output.count("authz_policy_reloaded") == 2, output[-3000:]
