from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from backend.core.validation import CanonicalUUID
from backend.reports import schemas, service
from backend.tenancy.context import CurrentOrg

router = APIRouter(prefix="/orgs/{org_id}", tags=["reports"])

From = Annotated[date, Query(alias="from", description="First day (in tz)")]
To = Annotated[date, Query(description="Last day, inclusive (in tz)")]
Zone = Annotated[str, Query(description="IANA zone days, weeks and months are cut in")]


@router.get("/reports/time", summary="Durations and billable amounts per group (up to two levels)")
async def time_report(
    ctx: CurrentOrg,
    from_: From,
    to: To,
    tz: Zone = "UTC",
    group_by: Annotated[list[schemas.GroupKey] | None, Query(max_length=2)] = None,
    project_id: Annotated[list[uuid.UUID] | None, Query()] = None,
    user_id: Annotated[list[uuid.UUID] | None, Query()] = None,
    client_id: Annotated[list[uuid.UUID] | None, Query()] = None,
    tag: Annotated[list[str] | None, Query()] = None,
    billable: bool | None = None,
    approval: Annotated[list[schemas.Approval] | None, Query()] = None,
    scope: Annotated[
        schemas.ScopeKind | None, Query(description="Narrow the figures; default: the widest your roles allow")
    ] = None,
) -> schemas.TimeReport:
    filters = service.Filters(
        projects=project_id or (),
        users=user_id or (),
        clients=client_id or (),
        tags=tag or (),
        billable=billable,
        approval=approval or (),
    )
    return await service.time_report(ctx, from_, to, tz, group_by or [], filters, scope)


@router.get("/reports/timesheet", summary="Days by people for a week or a month, with each week's approval")
async def timesheet_report(
    ctx: CurrentOrg,
    week: Annotated[str | None, Query(description="ISO week, 2026-W48")] = None,
    month: Annotated[str | None, Query(description="2026-11")] = None,
    tz: Zone = "UTC",
    user_id: Annotated[list[uuid.UUID] | None, Query()] = None,
) -> schemas.TimesheetReport:
    return await service.timesheet_report(ctx, week, month, tz, user_id or [])


@router.get("/reports/projects", summary="Hours and amounts per project against budget and estimate")
async def projects_report(ctx: CurrentOrg, tz: Zone = "UTC") -> schemas.ProjectsReport:
    return await service.projects_report(ctx, tz)


@router.get("/reports/productivity", summary="Tracked against expected hours per member")
async def productivity_report(ctx: CurrentOrg, from_: From, to: To, tz: Zone = "UTC") -> schemas.ProductivityReport:
    return await service.productivity_report(ctx, from_, to, tz)


@router.put("/reports/capacities/{user_id}", summary="A member's weekly capacity in hours (default 40)")
async def set_capacity(ctx: CurrentOrg, user_id: CanonicalUUID, data: schemas.CapacitySet) -> schemas.CapacityRead:
    return await service.set_capacity(ctx, user_id, data)


@router.get("/dashboard", summary="This week, running timers, your approval queue and projects over budget")
async def dashboard(
    ctx: CurrentOrg, tz: Annotated[str | None, Query(description="Default: your own zone")] = None
) -> schemas.Dashboard:
    return await service.dashboard(ctx, tz)
