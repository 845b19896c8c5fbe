from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from backend.core.db import Database
from backend.core.errors import NotFound
from backend.integrations import schemas, service
from backend.tenancy.context import CurrentOrg

router = APIRouter(prefix="/orgs/{org_id}", tags=["integrations"])
feed_router = APIRouter(prefix="/calendar-feeds", tags=["integrations"])


def _base(request: Request) -> str:
    configured = request.app.state.settings.web_base_url
    return str(configured or request.base_url)


@router.get("/integrations/connectors", summary="The kinds of connector, with their config schemas")
async def list_connectors(ctx: CurrentOrg) -> list[schemas.ConnectorRead]:
    return service.list_connectors(ctx)


@router.get("/me/calendar-feed", summary="Your calendar feed's secret URL and settings")
async def read_calendar_feed(ctx: CurrentOrg, request: Request) -> schemas.CalendarFeedRead:
    return await service.get_feed(ctx, _base(request))


@router.put("/me/calendar-feed", summary="Create your calendar feed, or change its settings (the URL stays)")
async def put_calendar_feed(
    ctx: CurrentOrg, data: schemas.CalendarFeedWrite, request: Request
) -> schemas.CalendarFeedRead:
    return await service.put_feed(ctx, data, _base(request))


@router.post("/me/calendar-feed/rotate", summary="A new secret URL for your feed (the old one stops working)")
async def rotate_calendar_feed(ctx: CurrentOrg, request: Request) -> schemas.CalendarFeedRead:
    return await service.rotate_feed(ctx, _base(request))


@router.delete("/me/calendar-feed", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke your calendar feed")
async def revoke_calendar_feed(ctx: CurrentOrg) -> Response:
    await service.revoke_feed(ctx)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@feed_router.get(
    "/{token}.ics",
    summary="A calendar feed (RFC 5545); the secret URL is the credential, no token needed",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
async def calendar_feed(request: Request, token: Annotated[str, Path(max_length=100)]) -> Response:
    db: Database = request.app.state.db
    async with db.transaction() as session:
        body = await service.feed_calendar(session, token)
    if body is None:
        raise NotFound("No such calendar feed.")
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300", "Referrer-Policy": "no-referrer"},
    )
