"""The platform's one mail sender: SMTP, plain text plus HTML, always from a job.

Callers never talk to SMTP from a request. :func:`enqueue` writes a :func:`send_mail` job into the
current unit of work's outbox (backend/core/jobs.py), so mail for a rolled-back transaction is never
sent, and a slow or broken SMTP server never holds a request. The worker delivers it; a failure raises,
is logged, and dramatiq retries it with exponential back-off (``MAIL_RETRIES`` times, from
``MIN_BACKOFF_MS`` up to ``MAX_BACKOFF_MS``). Delivery is at least once (the outbox and dramatiq both
may repeat a message), which for email means a rare duplicate rather than a lost invitation.

Bodies are rendered by the caller (the domain knows what it says); this module only speaks SMTP.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import structlog

from backend.core import jobs
from backend.settings import Settings, get_settings

log = structlog.get_logger(__name__)

MAIL_RETRIES = 12  # 5 s doubling to 30 min: about 2 h of attempts before a mail is dropped
MIN_BACKOFF_MS = 5_000
MAX_BACKOFF_MS = 30 * 60_000


def build(settings: Settings, to: str, subject: str, text: str, html: str | None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = Address(settings.smtp_from_name, addr_spec=settings.smtp_from)
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2] or None)
    # Automated mail: ask auto-responders not to answer (RFC 3834).
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def deliver(message: EmailMessage, settings: Settings | None = None) -> None:
    """Hand one message to the SMTP server (blocking; raises on any failure)."""
    settings = settings or get_settings()
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.smtp_ssl:
        smtp = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds)
    with smtp:
        if settings.smtp_starttls and not settings.smtp_ssl:
            smtp.starttls(context=context)
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(message)


async def send(to: str, subject: str, text: str, html: str | None = None) -> None:
    """Send one email now (from a worker or an operator tool); raises when SMTP refuses or is away."""
    settings = get_settings()
    message = build(settings, to, subject, text, html)
    try:
        await asyncio.to_thread(deliver, message, settings)
    except (OSError, smtplib.SMTPException) as exc:
        # The address is personal data: log its domain only.
        log.warning(
            "mail_send_failed",
            to_domain=to.rpartition("@")[2],
            subject=subject,
            smtp=f"{settings.smtp_host}:{settings.smtp_port}",
            error=f"{type(exc).__name__}: {exc}"[:300],
        )
        raise
    log.info("mail_sent", to_domain=to.rpartition("@")[2], subject=subject)


@jobs.actor(
    queue_name="mail",
    max_retries=MAIL_RETRIES,
    min_backoff=MIN_BACKOFF_MS,
    max_backoff=MAX_BACKOFF_MS,
    time_limit=120_000,
)
async def send_mail(to: str, subject: str, text: str, html: str | None = None) -> None:
    """The job behind :func:`enqueue`: one delivery attempt; dramatiq retries a raised failure."""
    await send(to, subject, text, html)


def enqueue(to: str, subject: str, text: str, html: str | None = None) -> None:
    """Send an email after the current unit of work commits (nothing is sent if it rolls back)."""
    jobs.send(send_mail, to, subject, text, html)
