from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from backend.core.pagination import Page, Paging
from backend.core.validation import CanonicalUUID
from backend.tenancy.context import CurrentOrg
from backend.tracking import entries, imports, locks, rates, schemas, time_settings, timer, timesheets, zones

router = APIRouter(prefix="/orgs/{org_id}", tags=["time tracking"])


# --- entries ---------------------------------------------------------------------------------------


@router.get("/time-entries", summary="List time entries (yours; everyone's on projects you lead, or all as admin)")
async def list_time_entries(
    ctx: CurrentOrg,
    page: Paging,
    from_: Annotated[datetime | None, Query(alias="from", description="start_at >= from")] = None,
    to: Annotated[datetime | None, Query(description="start_at < to")] = None,
    user_id: uuid.UUID | None = None,
    project_id: uuid.UUID | None = None,
    task_id: uuid.UUID | None = None,
    billable: bool | None = None,
    tag: str | None = None,
    running: bool | None = None,
) -> Page[schemas.TimeEntryRead]:
    filters = entries.EntryFilters(
        from_=from_,
        to=to,
        user_id=user_id,
        project_id=project_id,
        task_id=task_id,
        billable=billable,
        tag=tag,
        running=running,
    )
    return await entries.list_entries(ctx, page, filters)


@router.post("/time-entries", status_code=status.HTTP_201_CREATED, summary="Log time")
async def create_time_entry(ctx: CurrentOrg, data: schemas.TimeEntryCreate) -> schemas.TimeEntryRead:
    return await entries.create(ctx, data)


@router.patch("/time-entries", summary="Change several entries: all of them, or none (errors listed per id)")
async def bulk_update_time_entries(ctx: CurrentOrg, data: schemas.BulkUpdate) -> schemas.BulkResult:
    return await entries.bulk_update(ctx, data)


@router.delete("/time-entries", summary="Delete several entries: all of them, or none (errors listed per id)")
async def bulk_delete_time_entries(ctx: CurrentOrg, data: schemas.BulkDelete) -> schemas.BulkResult:
    return await entries.bulk_delete(ctx, data)


@router.post(
    "/time-entries/recalculate-rates",
    summary="Re-resolve the billable rate of the entries in a date range (leads: their project; admins: any)",
)
async def recalculate_rates(ctx: CurrentOrg, data: schemas.RecalculateRates) -> schemas.RecalculateResult:
    return await rates.recalculate_rates(ctx, data)


@router.get("/time-entries/{entry_id}", summary="Read a time entry")
async def read_time_entry(ctx: CurrentOrg, entry_id: CanonicalUUID) -> schemas.TimeEntryRead:
    return await entries.get(ctx, entry_id)


@router.patch("/time-entries/{entry_id}", summary="Change a time entry")
async def update_time_entry(
    ctx: CurrentOrg, entry_id: CanonicalUUID, data: schemas.TimeEntryUpdate
) -> schemas.TimeEntryRead:
    return await entries.update(ctx, entry_id, data)


@router.delete("/time-entries/{entry_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a time entry")
async def delete_time_entry(ctx: CurrentOrg, entry_id: CanonicalUUID) -> Response:
    await entries.delete(ctx, entry_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/time-entries/{entry_id}/corrections", summary="The corrections added to an entry")
async def list_corrections(ctx: CurrentOrg, entry_id: CanonicalUUID) -> list[schemas.CorrectionRead]:
    return await locks.list_corrections(ctx, entry_id)


@router.post(
    "/time-entries/{entry_id}/corrections",
    status_code=status.HTTP_201_CREATED,
    summary="Correct an entry without rewriting it (locked periods, approved weeks)",
)
async def add_correction(
    ctx: CurrentOrg, entry_id: CanonicalUUID, data: schemas.CorrectionCreate
) -> schemas.CorrectionRead:
    return await locks.add_correction(ctx, entry_id, data)


# --- timer -----------------------------------------------------------------------------------------


@router.get("/timer", summary="Your running timer, if any")
async def read_timer(ctx: CurrentOrg) -> schemas.TimerRead:
    return await timer.current_timer(ctx)


@router.post("/timer", status_code=status.HTTP_201_CREATED, summary="Start a timer (409 if one runs)")
async def start_timer(ctx: CurrentOrg, data: schemas.TimerStart) -> schemas.TimeEntryRead:
    return await timer.start_timer(ctx, data)


@router.post("/timer/stop", summary="Stop your running timer")
async def stop_timer(ctx: CurrentOrg) -> schemas.TimeEntryRead:
    return await timer.stop_timer(ctx)


# --- timesheets ------------------------------------------------------------------------------------


@router.get("/timesheets", summary="A person's ISO week (yours unless user_id is given)")
async def read_timesheet(
    ctx: CurrentOrg,
    week: Annotated[str, Query(pattern=r"^\d{4}-W\d{2}$", examples=["2026-W48"])],
    user_id: uuid.UUID | None = None,
) -> schemas.TimesheetRead:
    return await timesheets.get_timesheet(ctx, week, user_id)


@router.get("/timesheets/queue", summary="Submitted and decided timesheets you may see (status=submitted to approve)")
async def list_timesheets(
    ctx: CurrentOrg,
    page: Paging,
    status_: Annotated[str | None, Query(alias="status", pattern="^(submitted|approved|rejected|reopened)$")] = None,
    user_id: uuid.UUID | None = None,
) -> Page[schemas.TimesheetSummary]:
    return await timesheets.list_timesheets(ctx, page, status_, user_id)


@router.post("/timesheets/submit", summary="Submit your week for approval")
async def submit_timesheet(ctx: CurrentOrg, data: schemas.TimesheetSubmit) -> schemas.TimesheetRead:
    return await timesheets.submit_timesheet(ctx, data)


@router.post("/timesheets/{timesheet_id}/approve", summary="Approve a submitted timesheet (never your own)")
async def approve_timesheet(ctx: CurrentOrg, timesheet_id: CanonicalUUID) -> schemas.TimesheetRead:
    return await timesheets.approve_timesheet(ctx, timesheet_id)


@router.post("/timesheets/{timesheet_id}/reject", summary="Send a submitted timesheet back, with a reason")
async def reject_timesheet(
    ctx: CurrentOrg, timesheet_id: CanonicalUUID, data: schemas.TimesheetReject
) -> schemas.TimesheetRead:
    return await timesheets.reject_timesheet(ctx, timesheet_id, data)


@router.post("/timesheets/{timesheet_id}/reopen", summary="Reopen a submitted or approved timesheet for edits")
async def reopen_timesheet(ctx: CurrentOrg, timesheet_id: CanonicalUUID) -> schemas.TimesheetRead:
    return await timesheets.reopen_timesheet(ctx, timesheet_id)


# --- settings, lock, rates, zones, tags ------------------------------------------------------------


@router.get("/time-settings", summary="Currency, default rate, limits and the overlap rule")
async def read_time_settings(ctx: CurrentOrg) -> schemas.TimeSettingsRead:
    return await time_settings.get_settings(ctx)


@router.patch("/time-settings", summary="Change the organization's time settings")
async def update_time_settings(ctx: CurrentOrg, data: schemas.TimeSettingsUpdate) -> schemas.TimeSettingsRead:
    return await time_settings.update_settings(ctx, data)


@router.get("/time-lock", summary="The period lock: nothing starting before it changes")
async def read_time_lock(ctx: CurrentOrg) -> schemas.TimeLock:
    return await locks.get_lock(ctx)


@router.put("/time-lock", summary="Move the period lock (back: the owner only)")
async def set_time_lock(ctx: CurrentOrg, data: schemas.TimeLock) -> schemas.TimeLock:
    return await locks.set_lock(ctx, data)


@router.get("/rates", summary="Member, project and member-on-project rates")
async def list_rates(ctx: CurrentOrg) -> list[schemas.RateRead]:
    return await rates.list_rates(ctx)


@router.put("/rates", summary="Set (or with amount null remove) a rate; past entries keep theirs")
async def set_rate(ctx: CurrentOrg, data: schemas.RateSet) -> schemas.RateRead | None:
    return await rates.set_rate(ctx, data)


@router.put("/time-zone", summary="Set your time zone (or a member's, as admin)")
async def set_time_zone(ctx: CurrentOrg, data: schemas.TimeZoneSet) -> schemas.TimeZoneRead:
    return await zones.set_time_zone(ctx, data)


@router.get("/time-tags", summary="The organization's tags")
async def list_time_tags(ctx: CurrentOrg) -> list[schemas.TagRead]:
    return await entries.list_tags(ctx)


# --- imports ---------------------------------------------------------------------------------------


@router.post("/time-imports", status_code=status.HTTP_202_ACCEPTED, summary="Import a Toggl or Clockify CSV export")
async def start_import(ctx: CurrentOrg, data: schemas.ImportCreate) -> schemas.ImportRead:
    return await imports.start_import(ctx, data)


@router.get("/time-imports", summary="Your imports (everyone's for admins and auditors)")
async def list_imports(ctx: CurrentOrg, page: Paging) -> Page[schemas.ImportRead]:
    return await imports.list_imports(ctx, page)


@router.get("/time-imports/{import_id}", summary="An import's progress, counts and bad rows")
async def read_import(ctx: CurrentOrg, import_id: CanonicalUUID) -> schemas.ImportRead:
    return await imports.get_import(ctx, import_id)
