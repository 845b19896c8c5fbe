"""A real SMTP server for tests: the platform (its worker) and Keycloak deliver their emails here.

The server (``aiosmtpd``) runs in its own thread on 127.0.0.1; every message it accepts is parsed into
an :class:`email.message.EmailMessage` and kept in :attr:`SmtpSink.messages`. Tests wait for the mail
to a recipient and follow the action link in it, as the person would.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import html
import re
import socket
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

ACTION_TOKEN_PATH = "/login-actions/action-token?key="
_LINK = re.compile(r"https?://[^\s\"'<>]+")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Received:
    """One delivered message: the SMTP envelope's recipients and the parsed message."""

    recipients: tuple[str, ...]
    message: EmailMessage

    def addressed_to(self, address: str) -> bool:
        wanted = address.lower()
        headers = " ".join(str(self.message.get_all(name, [])) for name in ("To", "Cc"))
        return any(r.lower() == wanted for r in self.recipients) or wanted in headers.lower()

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    def bodies(self) -> list[str]:
        """The decoded text of every text part (plain first, then HTML)."""
        parts = [p for p in self.message.walk() if p.get_content_maintype() == "text"]
        parts.sort(key=lambda p: p.get_content_subtype() != "plain")
        return [str(p.get_content()) for p in parts]

    def action_link(self) -> str:
        """The first ``http(s)://`` link of the message, preferring Keycloak's action-token link."""
        links = [html.unescape(m.group(0)) for body in self.bodies() for m in _LINK.finditer(body)]
        for link in links:
            if ACTION_TOKEN_PATH in link:
                return link
        if links:
            return links[0]
        raise AssertionError(f"no link in the email {self.subject!r}:\n{self.bodies()}")


class Collector:
    """aiosmtpd's handler: keeps every accepted message (subclass it to misbehave on purpose)."""

    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self._sink._add(Received(tuple(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class SmtpSink:
    """``with SmtpSink() as sink:`` — listens on ``sink.host``/``sink.port`` until the block ends."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, handler: type[Collector] = Collector) -> None:
        self.host = host
        self.port = port or free_port()
        self._lock = threading.Lock()
        self._messages: list[Received] = []
        self.handler = handler(self)
        self._controller = Controller(self.handler, hostname=host, port=self.port, ready_timeout=10)

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _add(self, received: Received) -> None:
        with self._lock:
            self._messages.append(received)

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    def messages_to(self, address: str) -> list[Received]:
        return [m for m in self.messages if m.addressed_to(address)]

    async def wait_for(self, address: str, *, count: int = 1, timeout: float = 20.0) -> Received:
        """The ``count``-th message to ``address``, waiting up to ``timeout`` seconds for it."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.messages_to(address)
            if len(found) >= count:
                return found[count - 1]
            if time.monotonic() > deadline:
                seen = [(m.recipients, m.subject) for m in self.messages]
                raise AssertionError(f"no email #{count} to {address} within {timeout}s; received: {seen}")
            await asyncio.sleep(0.1)

    async def wait_for_link(self, address: str, *, count: int = 1, timeout: float = 20.0) -> str:
        return (await self.wait_for(address, count=count, timeout=timeout)).action_link()
