"""The platform's mail sender: SMTP failures raise (so dramatiq retries with back-off), and a job whose
SMTP server was away is delivered by a real worker once it is back."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from backend.core import mail
from tests.infra import stop_worker
from tests.members.conftest import new_email, start_mail_worker
from tests.smtp_sink import SmtpSink, free_port


async def test_smtp_failures_raise_so_the_job_is_retried_with_backoff(settings: Any) -> None:
    closed = settings.model_copy(update={"smtp_port": free_port(), "smtp_timeout_seconds": 2.0})
    message = mail.build(closed, "someone@example.test", "Hello", "text", "<p>html</p>")
    with pytest.raises(OSError):
        mail.deliver(message, closed)
    options = mail.send_mail.dramatiq_actor.options
    assert options["max_retries"] == mail.MAIL_RETRIES >= 5
    assert options["min_backoff"] == mail.MIN_BACKOFF_MS and options["max_backoff"] == mail.MAX_BACKOFF_MS


async def test_mail_is_delivered_by_the_worker_after_smtp_comes_back(
    migrated: dict[str, str], smtp_sink: SmtpSink
) -> None:
    """A job whose first attempt finds no SMTP server is retried and delivered once it is back."""
    port = free_port()
    down = SmtpSink(port=port)
    worker = start_mail_worker({**migrated}, down)
    try:
        address = new_email("retried")
        mail.send_mail.dramatiq_actor.send(address, "Retried", "text body", None)
        await asyncio.sleep(3)  # the first attempt fails: nothing listens on the port yet
        with down:
            deadline = time.monotonic() + 40
            while not down.messages_to(address):
                assert time.monotonic() < deadline, "the retried mail never arrived"
                await asyncio.sleep(0.2)
    finally:
        stop_worker(worker)
