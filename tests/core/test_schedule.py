"""The periodic jobs' Redis leases (backend/core/schedule.py), on the real Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis

from backend.core import schedule


@pytest.fixture
def client(migrated: dict[str, str]) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(os.environ["WORKTIME_REDIS_URL"])
    yield connection
    connection.close()


def test_one_send_per_interval_and_a_longer_interval_never_starves_a_shorter_one(client: redis.Redis) -> None:
    name = f"test-job-{uuid.uuid4().hex[:8]}"
    sent: list[str] = []
    hourly = schedule.Periodic(name, 3600, lambda: sent.append("hourly"))
    every_second = schedule.Periodic(name, 1, lambda: sent.append("every second"))
    try:
        assert schedule.offer(client, hourly, "worker-a")
        assert not schedule.offer(client, hourly, "worker-b")  # the lease is taken for the hour
        # A worker already on the shorter interval (a rolling change of the setting) is not held back.
        assert schedule.offer(client, every_second, "worker-b")
        assert not schedule.offer(client, every_second, "worker-a")
        assert sent == ["hourly", "every second"]
        assert 0 < client.pttl(every_second.lease) <= 1000 and client.pttl(hourly.lease) > 3_000_000
    finally:
        client.delete(hourly.lease, every_second.lease)
