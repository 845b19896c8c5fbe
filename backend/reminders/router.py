from __future__ import annotations

from fastapi import APIRouter, Response, status

from backend.core.pagination import Page, Paging
from backend.core.validation import CanonicalUUID
from backend.reminders import schedules, schemas, service
from backend.tenancy.context import CurrentOrg, CurrentUser

router = APIRouter(tags=["reminders"])
_RULES = "/orgs/{org_id}/reminder-rules"


@router.post(_RULES, status_code=status.HTTP_201_CREATED, summary="Add a reminder rule")
async def create_reminder_rule(ctx: CurrentOrg, data: schemas.RuleCreate) -> schemas.RuleRead:
    return await service.create_rule(ctx, data)


@router.get(_RULES, summary="The organization's reminder rules")
async def list_reminder_rules(ctx: CurrentOrg, page: Paging) -> Page[schemas.RuleRead]:
    return await service.list_rules(ctx, page)


@router.get(_RULES + "/{rule_id}", summary="Read a reminder rule")
async def read_reminder_rule(ctx: CurrentOrg, rule_id: CanonicalUUID) -> schemas.RuleRead:
    return await service.get_rule(ctx, rule_id)


@router.patch(_RULES + "/{rule_id}", summary="Change a reminder rule")
async def update_reminder_rule(ctx: CurrentOrg, rule_id: CanonicalUUID, data: schemas.RuleUpdate) -> schemas.RuleRead:
    return await service.update_rule(ctx, rule_id, data)


@router.delete(_RULES + "/{rule_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a reminder rule")
async def delete_reminder_rule(ctx: CurrentOrg, rule_id: CanonicalUUID) -> Response:
    await service.delete_rule(ctx, rule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me/notifications", summary="Your notifications (reminders), newest first")
async def list_my_notifications(
    ctx: CurrentUser, page: Paging, unread: bool | None = None
) -> Page[schemas.NotificationRead]:
    return await service.my_notifications(ctx, page, unread=unread)


@router.post("/me/notifications/{notification_id}/read", summary="Mark one of your notifications read")
async def read_my_notification(ctx: CurrentUser, notification_id: CanonicalUUID) -> schemas.NotificationRead:
    return await service.mark_read(ctx, notification_id)


_MUTES = "/orgs/{org_id}/me/reminder-mutes"


@router.get(_MUTES, summary="The kinds of reminder you mute in this organization")
async def read_my_reminder_mutes(ctx: CurrentOrg) -> schemas.MutesRead:
    return await service.my_mutes(ctx)


@router.put(_MUTES, summary="Set the kinds of reminder you mute in this organization (the whole set)")
async def set_my_reminder_mutes(ctx: CurrentOrg, data: schemas.MutesSet) -> schemas.MutesRead:
    return await service.set_my_mutes(ctx, data)


_SCHEDULES = "/orgs/{org_id}/export-schedules"


@router.post(_SCHEDULES, status_code=status.HTTP_201_CREATED, summary="Schedule a recurring export")
async def create_export_schedule(ctx: CurrentOrg, data: schemas.ScheduleCreate) -> schemas.ScheduleRead:
    return await schedules.create_schedule(ctx, data)


@router.get(_SCHEDULES, summary="The organization's export schedules")
async def list_export_schedules(ctx: CurrentOrg, page: Paging) -> Page[schemas.ScheduleRead]:
    return await schedules.list_schedules(ctx, page)


@router.get(_SCHEDULES + "/{schedule_id}", summary="Read an export schedule")
async def read_export_schedule(ctx: CurrentOrg, schedule_id: CanonicalUUID) -> schemas.ScheduleRead:
    return await schedules.get_schedule(ctx, schedule_id)


@router.patch(_SCHEDULES + "/{schedule_id}", summary="Change an export schedule")
async def update_export_schedule(
    ctx: CurrentOrg, schedule_id: CanonicalUUID, data: schemas.ScheduleUpdate
) -> schemas.ScheduleRead:
    return await schedules.update_schedule(ctx, schedule_id, data)


@router.delete(
    _SCHEDULES + "/{schedule_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove an export schedule"
)
async def delete_export_schedule(ctx: CurrentOrg, schedule_id: CanonicalUUID) -> Response:
    await schedules.delete_schedule(ctx, schedule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
