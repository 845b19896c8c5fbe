from __future__ import annotations

from fastapi import APIRouter, Response, status

from backend.core.pagination import Page, Paging
from backend.core.validation import CanonicalUUID
from backend.tenancy.context import CurrentOrg
from backend.webhooks import schemas, service
from backend.webhooks.models import DeliveryStatus

router = APIRouter(prefix="/orgs/{org_id}/webhooks", tags=["webhooks"])


@router.post("", status_code=status.HTTP_201_CREATED, summary="Register an endpoint (its secret is shown once)")
async def create_webhook(ctx: CurrentOrg, data: schemas.EndpointCreate) -> schemas.EndpointCreated:
    return await service.create(ctx, data)


@router.get("", summary="The organization's webhook endpoints")
async def list_webhooks(ctx: CurrentOrg, page: Paging) -> Page[schemas.EndpointRead]:
    return await service.list_endpoints(ctx, page)


@router.get("/{webhook_id}", summary="Read an endpoint")
async def read_webhook(ctx: CurrentOrg, webhook_id: CanonicalUUID) -> schemas.EndpointRead:
    return await service.get(ctx, webhook_id)


@router.patch("/{webhook_id}", summary="Change an endpoint (turning it on again clears its failures)")
async def update_webhook(
    ctx: CurrentOrg, webhook_id: CanonicalUUID, data: schemas.EndpointUpdate
) -> schemas.EndpointRead:
    return await service.update_endpoint(ctx, webhook_id, data)


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove an endpoint and its log")
async def delete_webhook(ctx: CurrentOrg, webhook_id: CanonicalUUID) -> Response:
    await service.delete(ctx, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{webhook_id}/secret", summary="Replace the signing secret (the new one is shown once)")
async def rotate_webhook_secret(ctx: CurrentOrg, webhook_id: CanonicalUUID) -> schemas.EndpointCreated:
    return await service.rotate_secret(ctx, webhook_id)


@router.post("/{webhook_id}/ping", status_code=status.HTTP_202_ACCEPTED, summary="Send a test event")
async def ping_webhook(ctx: CurrentOrg, webhook_id: CanonicalUUID) -> schemas.DeliveryRead:
    return await service.ping(ctx, webhook_id)


@router.get("/{webhook_id}/deliveries", summary="The endpoint's delivery log, newest first")
async def list_webhook_deliveries(
    ctx: CurrentOrg, webhook_id: CanonicalUUID, page: Paging, status: DeliveryStatus | None = None
) -> Page[schemas.DeliveryRead]:
    return await service.list_deliveries(ctx, webhook_id, page, status=status)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a logged delivery's event again",
)
async def redeliver_webhook(
    ctx: CurrentOrg, webhook_id: CanonicalUUID, delivery_id: CanonicalUUID
) -> schemas.DeliveryRead:
    return await service.redeliver(ctx, webhook_id, delivery_id)
