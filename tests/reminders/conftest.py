"""A real worker whose scheduler evaluates the reminder rules every second and whose mail goes to a sink."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
import redis

from backend.core import schedule
from tests.infra import start_worker, stop_worker
from tests.smtp_sink import SmtpSink


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as smtp:
        yield smtp


@pytest.fixture(scope="module")
def reminder_worker(migrated: dict[str, str], sink: SmtpSink) -> Iterator[subprocess.Popen[bytes]]:
    # Any worker of an earlier test took the reminders lease for its own interval (300 s by default);
    # this one ticks every second, so it must not wait that lease out.
    client = redis.Redis.from_url(migrated["WORKTIME_REDIS_URL"])
    client.delete(schedule.LEASE_PREFIX + "reminders")
    client.close()
    process = start_worker(
        {
            **migrated,
            "WORKTIME_SMTP_HOST": sink.host,
            "WORKTIME_SMTP_PORT": str(sink.port),
            "WORKTIME_REMINDER_INTERVAL_SECONDS": "1",
            "WORKTIME_WEB_BASE_URL": "https://worktime.example.test",
        }
    )
    yield process
    stop_worker(process)
