from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Tokens
from tests.infra import start_worker, stop_worker


@pytest.fixture
def worker(migrated: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = start_worker(migrated)
    yield process
    stop_worker(process)


async def test_a_job_sent_by_the_api_is_processed_by_a_real_worker(
    client: httpx.AsyncClient, tokens: Tokens, demo_orgs: dict[str, Any], worker: subprocess.Popen[bytes]
) -> None:
    bob = await tokens.headers("bob")
    acme = demo_orgs["acme"]
    sent = await client.post(f"/api/v1/orgs/{acme}/diagnostics/pings", headers=bob)
    assert sent.status_code == 202, sent.text
    assert sent.json()["status"] == "queued"
    ping_url = f"/api/v1/orgs/{acme}/diagnostics/pings/{sent.json()['id']}"
    for _ in range(300):
        state = (await client.get(ping_url, headers=bob)).json()
        if state["status"] == "processed":
            break
        assert worker.poll() is None, "the worker exited"
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the worker did not process the ping within 30 s")
    assert state["worker_pid"] not in (None, os.getpid())
