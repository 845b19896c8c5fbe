"""Webhook jobs: the fan-out of one event to its endpoints, and one delivery attempt (retried by
dramatiq with exponential back-off, from ``webhook_min_backoff_ms`` doubling up to
``webhook_max_backoff_ms``, ``webhook_retries`` times: about a day with the defaults)."""

from __future__ import annotations

import uuid
from typing import Any

from dramatiq.middleware import CurrentMessage

from backend.core import jobs
from backend.core.worker import worker_database
from backend.settings import get_settings
from backend.webhooks import service

_settings = get_settings()


class DeliveryFailed(Exception):
    """Raised so that dramatiq retries the attempt later; the delivery log already holds the details."""


@jobs.actor(max_retries=0, time_limit=120_000)
async def fan_out_event(org_id: str, event: dict[str, Any]) -> None:
    await service.fan_out(worker_database(), uuid.UUID(org_id), event)


@jobs.actor(
    max_retries=_settings.webhook_retries,
    min_backoff=_settings.webhook_min_backoff_ms,
    max_backoff=_settings.webhook_max_backoff_ms,
    time_limit=120_000,
)
async def deliver_webhook(org_id: str, delivery_id: str) -> None:
    message = CurrentMessage.get_current_message()
    retries = int(message.options.get("retries", 0)) if message else 0
    outcome = await service.attempt(
        worker_database(),
        uuid.UUID(org_id),
        uuid.UUID(delivery_id),
        final=retries >= get_settings().webhook_retries,
    )
    if outcome.retry:
        raise DeliveryFailed(f"delivery {delivery_id} failed; retried with back-off")
