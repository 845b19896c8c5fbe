"""The platform's mail sender: SMTP failures raise (so dramatiq retries with back-off), and a job whose
SMTP server was away is delivered by a real worker once it is back."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from typing import Any

import pytest

from backend.core import mail
from backend.settings import get_settings
from tests.infra import stop_worker
from tests.members.conftest import new_email, start_mail_worker
from tests.smtp_sink import Collector, SmtpSink, free_port


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


class _StallsTheFirstRecipient(Collector):
    """The first delivery attempt hangs before any data is sent (a slow SMTP server at RCPT TO), long
    enough for the test to kill the worker that made it; later attempts are accepted."""

    def __init__(self, sink: SmtpSink) -> None:
        super().__init__(sink)
        self.stalled = threading.Event()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if not self.stalled.is_set():
            self.stalled.set()
            await asyncio.sleep(180)
            return "451 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


async def test_a_worker_killed_mid_mail_is_retried_and_the_mail_arrives_once(migrated: dict[str, str]) -> None:
    with SmtpSink(handler=_StallsTheFirstRecipient) as sink:
        handler = sink.handler
        assert isinstance(handler, _StallsTheFirstRecipient)
        first = start_mail_worker({**migrated}, sink)
        second = None
        try:
            address = new_email("killed")
            mail.send_mail.dramatiq_actor.send(address, "After a kill", "text body", None)
            # A worker starts in seconds, but a busy machine can take much longer.
            assert await asyncio.to_thread(handler.stalled.wait, 120), "the first attempt never reached SMTP"
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(10)
            assert sink.messages_to(address) == []
            # The broker hands the job to another worker once the dead one's heartbeat is stale (15 s).
            second = start_mail_worker({**migrated}, sink)
            deadline = time.monotonic() + get_settings().jobs_heartbeat_timeout_seconds + 40
            while not sink.messages_to(address):
                assert time.monotonic() < deadline, "the killed worker's mail was never delivered"
                await asyncio.sleep(0.2)
            await asyncio.sleep(3)  # and only once
            assert len(sink.messages_to(address)) == 1
        finally:
            stop_worker(first)
            if second is not None:
                stop_worker(second)
