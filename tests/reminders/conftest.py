"""A real worker whose scheduler evaluates the reminder rules every second and whose mail goes to a sink."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.infra import start_worker, stop_worker
from tests.smtp_sink import SmtpSink


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as smtp:
        yield smtp


@pytest.fixture(scope="module")
def reminder_worker(migrated: dict[str, str], sink: SmtpSink) -> Iterator[subprocess.Popen[bytes]]:
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
