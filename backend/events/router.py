from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from backend.core.pagination import Page, Paging
from backend.core.validation import CanonicalUUID
from backend.events import schemas, service
from backend.events.models import EventStatus
from backend.tenancy.context import CurrentOrg

router = APIRouter(prefix="/orgs/{org_id}/events", tags=["calendar"])


@router.post("", status_code=status.HTTP_201_CREATED, summary="Schedule an event (optionally recurring)")
async def create_event(ctx: CurrentOrg, data: schemas.EventCreate) -> schemas.EventRead:
    return await service.create(ctx, data)


@router.get(
    "",
    summary="Occurrences overlapping [from, to) (at most 366 days), recurring events expanded",
    description="Cancelled events stay listed (status cancelled) unless `status` leaves them out. Private events "
    "you neither created nor attend come as busy time (`busy: true`, no title or location), except when "
    "filtering by project or attendee.",
)
async def list_occurrences(
    ctx: CurrentOrg,
    page: Paging,
    start: Annotated[datetime, Query(alias="from", description="Window start, with a UTC offset")],
    end: Annotated[datetime, Query(alias="to", description="Window end, with a UTC offset")],
    project_id: uuid.UUID | None = None,
    attendee: str | None = None,
    status: Annotated[
        list[EventStatus] | None, Query(description="Only these statuses (repeat the parameter for several)")
    ] = None,
) -> Page[schemas.OccurrenceRead]:
    return await service.occurrences(
        ctx, page, start=start, end=end, project_id=project_id, attendee=attendee, statuses=status
    )


@router.get(
    "/{event_id}", summary="Read an event, its attendees and cancelled occurrences (a private one of others: busy)"
)
async def read_event(ctx: CurrentOrg, event_id: CanonicalUUID) -> schemas.EventRead:
    return await service.get(ctx, event_id)


@router.patch("/{event_id}", summary="Change an event (its creator, or an admin)")
async def update_event(ctx: CurrentOrg, event_id: CanonicalUUID, data: schemas.EventUpdate) -> schemas.EventRead:
    return await service.update(ctx, event_id, data)


@router.delete("/{event_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete an event and all occurrences")
async def delete_event(ctx: CurrentOrg, event_id: CanonicalUUID) -> Response:
    await service.delete(ctx, event_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/{event_id}/rsvp", summary="Answer an invitation: accepted, tentative or declined")
async def rsvp_event(ctx: CurrentOrg, event_id: CanonicalUUID, data: schemas.RsvpWrite) -> schemas.EventRead:
    return await service.rsvp(ctx, event_id, data)


@router.post("/{event_id}/cancellations", summary="Cancel one occurrence of a recurring event")
async def cancel_occurrence(
    ctx: CurrentOrg, event_id: CanonicalUUID, data: schemas.CancellationWrite
) -> schemas.EventRead:
    return await service.cancel_occurrence(ctx, event_id, data)
