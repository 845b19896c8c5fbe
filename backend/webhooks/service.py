"""Outgoing webhooks: endpoints (admins), the fan-out of events to them and signed, retried deliveries.

Events come from :func:`backend.core.hooks.emit`, written to the outbox in the transaction of the change.
The ``fan_out_event`` job (tasks.py) records one delivery per subscribed, active endpoint and sends a
``deliver_webhook`` job for each, again through the outbox. A delivery attempt reads what it needs in one
short transaction, calls the receiver with no transaction open (backend/core/safehttp.py guards the
address), and records the outcome in another. dramatiq retries a failed attempt with exponential
back-off for about a day; ``webhook_disable_after_failures`` consecutive failures disable the endpoint,
write an audit event and mail the organization's admins.
"""

from __future__ import annotations

import base64
import json
import secrets as random_secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog
from sqlalchemy import select, update
from sqlmodel import col
from standardwebhooks.webhooks import Webhook

from backend.core import audit, hooks, jobs, mail, safehttp, secrets
from backend.core.db import Database
from backend.core.errors import NotFound, UnprocessableContent
from backend.core.models import utcnow
from backend.core.pagination import Page, PageParams, paginate
from backend.settings import get_settings
from backend.tenancy import guard
from backend.tenancy.context import OrgContext
from backend.tenancy.models import Membership, User
from backend.webhooks import schemas
from backend.webhooks.models import DeliveryStatus, EndpointFormat, WebhookDelivery, WebhookEndpoint

log = structlog.get_logger(__name__)
_FIELDS = ("url", "format", "description", "events", "active", "disabled_at", "disabled_reason")
USER_AGENT = "worktime-webhooks/1"


def _state(endpoint: WebhookEndpoint) -> dict[str, Any]:
    state = {f: getattr(endpoint, f) for f in _FIELDS}
    state["url"] = shown_url(endpoint.url, endpoint.format)
    return state


def shown_url(url: str, format: str) -> str:
    """A Slack incoming-webhook URL is itself the credential: show its host only."""
    if format == EndpointFormat.SLACK:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}/…"
    return url


def _read(endpoint: WebhookEndpoint) -> schemas.EndpointRead:
    read = schemas.EndpointRead.model_validate(endpoint, from_attributes=True)
    return read.model_copy(update={"url": shown_url(endpoint.url, endpoint.format)})


def new_secret() -> str:
    return "whsec_" + base64.b64encode(random_secrets.token_bytes(32)).decode()


async def _check_url(url: str) -> None:
    """Refuse a forbidden destination already at registration (it is checked again on every attempt)."""
    try:
        await safehttp.resolve(url, allow_loopback=get_settings().webhook_loopback_allowed)
    except safehttp.RefusedDestination as exc:
        raise UnprocessableContent(f"This URL cannot receive webhooks: {exc}.", extra={"field": "url"}) from None


async def _load(ctx: OrgContext, endpoint_id: uuid.UUID, *, lock: bool = False) -> WebhookEndpoint:
    endpoint = await ctx.session.get(WebhookEndpoint, (ctx.org_id, endpoint_id), with_for_update=lock)
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


async def create(ctx: OrgContext, data: schemas.EndpointCreate) -> schemas.EndpointCreated:
    guard.require(ctx, "webhook:manage")
    await _check_url(data.url)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        org_id=ctx.org_id,
        url=data.url,
        format=data.format.value,
        description=data.description,
        events=list(data.events),
        active=data.active,
        secret_sealed=secrets.seal(secret),
        created_by=ctx.user_id,
    )
    ctx.session.add(endpoint)
    await ctx.session.flush()
    await audit.record_in(
        ctx, action="webhook.created", resource_type="webhook", resource_id=endpoint.id, after=_state(endpoint)
    )
    return schemas.EndpointCreated(**_read(endpoint).model_dump(), secret=secret)


async def list_endpoints(ctx: OrgContext, page: PageParams) -> Page[schemas.EndpointRead]:
    guard.require(ctx, "webhook:read")
    query = select(WebhookEndpoint).where(col(WebhookEndpoint.org_id) == ctx.org_id)
    order = [col(WebhookEndpoint.created_at), col(WebhookEndpoint.id)]
    return await paginate(ctx.session, query, page, _read, order_by=order, scalars=True)


async def get(ctx: OrgContext, endpoint_id: uuid.UUID) -> schemas.EndpointRead:
    guard.require(ctx, "webhook:read")
    return _read(await _load(ctx, endpoint_id))


async def update_endpoint(
    ctx: OrgContext, endpoint_id: uuid.UUID, data: schemas.EndpointUpdate
) -> schemas.EndpointRead:
    guard.require(ctx, "webhook:manage")
    endpoint = await _load(ctx, endpoint_id, lock=True)
    before = _state(endpoint)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "url" in changes:
        await _check_url(changes["url"])
    for field, value in changes.items():
        setattr(endpoint, field, list(value) if field == "events" else value)
    if changes.get("active") is True:
        endpoint.consecutive_failures, endpoint.disabled_at, endpoint.disabled_reason = 0, None, None
    after = _state(endpoint)
    if after != before or "url" in changes:
        endpoint.updated_at = utcnow()
        await ctx.session.flush()
        await audit.record_in(
            ctx, action="webhook.updated", resource_type="webhook", resource_id=endpoint.id, before=before, after=after
        )
    return _read(endpoint)


async def rotate_secret(ctx: OrgContext, endpoint_id: uuid.UUID) -> schemas.EndpointCreated:
    """A new signing secret, shown once; the old one stops signing at once."""
    guard.require(ctx, "webhook:manage")
    endpoint = await _load(ctx, endpoint_id, lock=True)
    secret = new_secret()
    endpoint.secret_sealed, endpoint.updated_at = secrets.seal(secret), utcnow()
    await ctx.session.flush()
    await audit.record_in(ctx, action="webhook.secret_rotated", resource_type="webhook", resource_id=endpoint.id)
    return schemas.EndpointCreated(**_read(endpoint).model_dump(), secret=secret)


async def delete(ctx: OrgContext, endpoint_id: uuid.UUID) -> None:
    guard.require(ctx, "webhook:manage")
    endpoint = await _load(ctx, endpoint_id, lock=True)
    before = _state(endpoint)
    await ctx.session.delete(endpoint)
    await ctx.session.flush()
    await audit.record_in(
        ctx, action="webhook.deleted", resource_type="webhook", resource_id=endpoint_id, before=before
    )


async def list_deliveries(
    ctx: OrgContext, endpoint_id: uuid.UUID, page: PageParams, *, status: DeliveryStatus | None = None
) -> Page[schemas.DeliveryRead]:
    """Newest first."""
    guard.require(ctx, "webhook:read")
    await _load(ctx, endpoint_id)
    query = select(WebhookDelivery).where(
        col(WebhookDelivery.org_id) == ctx.org_id, col(WebhookDelivery.endpoint_id) == endpoint_id
    )
    if status is not None:
        query = query.where(col(WebhookDelivery.status) == status.value)
    order = [col(WebhookDelivery.created_at).desc(), col(WebhookDelivery.id)]
    return await paginate(
        ctx.session, query, page, lambda d: schemas.DeliveryRead.model_validate(d), order_by=order, scalars=True
    )


def _new_delivery(
    endpoint: WebhookEndpoint, payload: dict[str, Any], redelivery_of: uuid.UUID | None = None
) -> WebhookDelivery:
    return WebhookDelivery(
        org_id=endpoint.org_id,
        endpoint_id=endpoint.id,
        event_id=str(payload["id"]),
        event_type=str(payload["type"]),
        payload=payload,
        redelivery_of=redelivery_of,
    )


async def redeliver(ctx: OrgContext, endpoint_id: uuid.UUID, delivery_id: uuid.UUID) -> schemas.DeliveryRead:
    """Send a logged delivery's event again (same event id, so receivers can tell it is a repeat)."""
    guard.require(ctx, "webhook:manage")
    endpoint = await _load(ctx, endpoint_id)
    original = await ctx.session.get(WebhookDelivery, (ctx.org_id, delivery_id))
    if original is None or original.endpoint_id != endpoint.id:
        raise NotFound("No such delivery for this endpoint.")
    again = _new_delivery(endpoint, original.payload, redelivery_of=original.id)
    ctx.session.add(again)
    await ctx.session.flush()
    jobs.send("deliver_webhook", str(ctx.org_id), str(again.id))
    await audit.record_in(
        ctx,
        action="webhook.redelivered",
        resource_type="webhook",
        resource_id=endpoint.id,
        after={"delivery": again.id},
    )
    return schemas.DeliveryRead.model_validate(again)


async def ping(ctx: OrgContext, endpoint_id: uuid.UUID) -> schemas.DeliveryRead:
    """A ``ping`` event to this endpoint only (whatever it subscribes to), to test a receiver."""
    guard.require(ctx, "webhook:manage")
    endpoint = await _load(ctx, endpoint_id)
    payload = hooks.envelope(ctx.org_id, "ping", {"endpoint_id": endpoint.id})
    delivery = _new_delivery(endpoint, payload)
    ctx.session.add(delivery)
    await ctx.session.flush()
    jobs.send("deliver_webhook", str(ctx.org_id), str(delivery.id))
    return schemas.DeliveryRead.model_validate(delivery)


# The worker's side ------------------------------------------------------------------------------------


async def fan_out(db: Database, org_id: uuid.UUID, event: dict[str, Any]) -> list[uuid.UUID]:
    """One delivery per active endpoint subscribed to the event, each sent as its own job."""
    async with db.unit_of_work(org_id=org_id) as session:
        endpoints = (
            await session.scalars(
                select(WebhookEndpoint).where(
                    col(WebhookEndpoint.org_id) == org_id,
                    col(WebhookEndpoint.active).is_(True),
                    col(WebhookEndpoint.events).any_() == event["type"],
                )
            )
        ).all()
        made = [_new_delivery(endpoint, event) for endpoint in endpoints]
        session.add_all(made)
        await session.flush()
        for delivery in made:
            jobs.send("deliver_webhook", str(org_id), str(delivery.id))
    return [d.id for d in made]


def slack_text(event: dict[str, Any]) -> str:
    data = event.get("data") or {}
    details = ", ".join(f"{key} {value}" for key, value in sorted(data.items()))
    return f"*{event['type']}*" + (f": {details}" if details else "")


def render(event: dict[str, Any], format: str) -> bytes:
    if format == EndpointFormat.SLACK:
        return json.dumps({"text": slack_text(event)}, separators=(",", ":")).encode()
    return json.dumps(event, separators=(",", ":"), sort_keys=True).encode()


def signed_headers(secret: str, message_id: str, body: bytes, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers for ``body``."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body.decode()),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


@dataclass(frozen=True, slots=True)
class Outcome:
    succeeded: bool
    retry: bool  # a failure worth another attempt


async def attempt(db: Database, org_id: uuid.UUID, delivery_id: uuid.UUID, *, final: bool) -> Outcome:
    """One delivery attempt, logged; ``final`` when no retry follows a failure."""
    settings = get_settings()
    async with db.unit_of_work(org_id=org_id) as session:
        delivery = await session.get(WebhookDelivery, (org_id, delivery_id))
        if delivery is None or delivery.status in (DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED):
            return Outcome(succeeded=delivery is not None and delivery.status == DeliveryStatus.SUCCEEDED, retry=False)
        endpoint = await session.get(WebhookEndpoint, (org_id, delivery.endpoint_id))
        if endpoint is None or not endpoint.active:
            delivery.status, delivery.error = DeliveryStatus.FAILED.value, "The endpoint is disabled."
            return Outcome(succeeded=False, retry=False)
        url, format, secret = endpoint.url, endpoint.format, secrets.open_sealed(endpoint.secret_sealed)
        payload, message_id = delivery.payload, delivery.event_id
    body = render(payload, format)
    code: int | None = None
    duration: int | None = None
    error: str | None = None
    retry = True
    try:
        answer = await safehttp.post(
            url,
            body,
            signed_headers(secret, message_id, body, utcnow()),
            allow_loopback=settings.webhook_loopback_allowed,
            timeout_seconds=settings.webhook_timeout_seconds,
            max_response_bytes=settings.webhook_max_response_bytes,
        )
        code, duration = answer.status_code, answer.duration_ms
        if 300 <= code < 400:
            error = "The receiver answered with a redirect; redirects are not followed."
        elif code >= 400:
            error = f"The receiver answered {code}."
    except safehttp.RefusedDestination as exc:
        error, retry = f"Refused destination: {exc}.", False
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__
    succeeded = error is None
    async with db.unit_of_work(org_id=org_id) as session:
        delivery = await session.get(WebhookDelivery, (org_id, delivery_id), with_for_update=True)
        endpoint = (
            await session.get(WebhookEndpoint, (org_id, delivery.endpoint_id), with_for_update=True)
            if delivery
            else None
        )
        if delivery is None or endpoint is None:
            return Outcome(succeeded=succeeded, retry=False)
        delivery.attempts += 1
        delivery.last_attempt_at = utcnow()
        delivery.response_code, delivery.duration_ms, delivery.error = code, duration, error
        if succeeded:
            delivery.status = DeliveryStatus.SUCCEEDED.value
            endpoint.consecutive_failures = 0
        else:
            endpoint.consecutive_failures += 1
            disable = endpoint.active and endpoint.consecutive_failures >= settings.webhook_disable_after_failures
            if disable:
                await _disable(session, endpoint, f"{endpoint.consecutive_failures} consecutive failed deliveries")
            retry = retry and not final and not disable
            delivery.status = (DeliveryStatus.RETRYING if retry else DeliveryStatus.FAILED).value
        log.info(
            "webhook_attempt",
            endpoint_id=str(endpoint.id),
            delivery_id=str(delivery_id),
            event_type=delivery.event_type,
            status=delivery.status,
            response_code=code,
            duration_ms=duration,
        )
    return Outcome(succeeded=succeeded, retry=not succeeded and retry)


async def _disable(session: Any, endpoint: WebhookEndpoint, reason: str) -> None:
    before = _state(endpoint)
    endpoint.active, endpoint.disabled_at, endpoint.disabled_reason = False, utcnow(), reason
    endpoint.updated_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        org_id=endpoint.org_id,
        actor=None,
        action="webhook.disabled",
        resource_type="webhook",
        resource_id=endpoint.id,
        before=before,
        after=_state(endpoint),
    )
    # Still-pending deliveries to it will not be attempted; they fail when their job runs.
    await session.execute(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.org_id) == endpoint.org_id,
            col(WebhookDelivery.endpoint_id) == endpoint.id,
            col(WebhookDelivery.status).in_([DeliveryStatus.PENDING.value, DeliveryStatus.RETRYING.value]),
        )
        .values(status=DeliveryStatus.FAILED.value, error="The endpoint was disabled.")
    )
    admins = (
        await session.scalars(
            select(col(User.email))
            .join(Membership, col(Membership.user_id) == col(User.id))
            .where(
                col(Membership.org_id) == endpoint.org_id,
                col(Membership.role).in_(["owner", "admin"]),
                col(Membership.status) == "active",
                col(User.email).is_not(None),
            )
        )
    ).all()
    shown = shown_url(endpoint.url, endpoint.format)
    for email in admins:
        mail.enqueue(
            str(email),
            "A webhook endpoint was disabled",
            f"The webhook endpoint {shown} was disabled after {reason}.\n\n"
            "Check the receiver, then turn the endpoint on again in the organization's webhook settings; "
            "its delivery log shows each attempt.\n",
        )


async def reseal_secrets(connection: Any) -> int:
    """``keys rotate``: every endpoint's signing secret under the newest key (owner connection)."""
    return await secrets.reseal_column(connection, "webhook_endpoints", "secret_sealed")
