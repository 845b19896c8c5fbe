from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from backend.core.db import Database
from backend.core.errors import NotFound
from backend.core.validation import CanonicalUUID
from backend.reports import saved, schemas, service
from backend.tenancy.context import CurrentOrg

router = APIRouter(prefix="/orgs/{org_id}", tags=["reports"])

From = Annotated[date, Query(alias="from", description="First day (in tz)")]
To = Annotated[date, Query(description="Last day, inclusive (in tz)")]
Zone = Annotated[str, Query(description="IANA zone days, weeks and months are cut in")]


@router.get("/reports/time", summary="Durations and billable amounts per group (up to two levels)")
async def time_report(ctx: CurrentOrg, query: Annotated[schemas.TimeReportQuery, Query()]) -> schemas.TimeReport:
    return await service.run_time_query(ctx, query)


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


# --- saved reports and share links ------------------------------------------------------------------

SAVED = "/saved-reports"


def _base(request: Request) -> str:
    configured = request.app.state.settings.web_base_url
    return str(configured or request.base_url)


@router.get(SAVED, summary="Your saved reports and the organization's shared ones")
async def list_saved_reports(ctx: CurrentOrg) -> list[schemas.SavedReportRead]:
    return await saved.list_reports(ctx)


@router.post(SAVED, status_code=status.HTTP_201_CREATED, summary="Save a time report query under a name")
async def create_saved_report(ctx: CurrentOrg, data: schemas.SavedReportCreate) -> schemas.SavedReportRead:
    return await saved.create_report(ctx, data)


@router.get(SAVED + "/{report_id}", summary="A saved report's name and query")
async def read_saved_report(ctx: CurrentOrg, report_id: CanonicalUUID) -> schemas.SavedReportRead:
    return await saved.get_report(ctx, report_id)


@router.patch(SAVED + "/{report_id}", summary="Rename, re-query or (un)share your saved report")
async def update_saved_report(
    ctx: CurrentOrg, report_id: CanonicalUUID, data: schemas.SavedReportUpdate
) -> schemas.SavedReportRead:
    return await saved.update_report(ctx, report_id, data)


@router.delete(SAVED + "/{report_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a saved report")
async def delete_saved_report(ctx: CurrentOrg, report_id: CanonicalUUID) -> Response:
    await saved.delete_report(ctx, report_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(SAVED + "/{report_id}/result", summary="Run a saved report: its live figures, in your scope")
async def run_saved_report(ctx: CurrentOrg, report_id: CanonicalUUID) -> schemas.SavedReportResult:
    return await saved.run_report(ctx, report_id)


@router.get(SAVED + "/{report_id}/links", summary="A saved report's share links (never their secrets)")
async def list_share_links(ctx: CurrentOrg, report_id: CanonicalUUID) -> list[schemas.ShareLinkRead]:
    return await saved.list_links(ctx, report_id)


@router.post(
    SAVED + "/{report_id}/links",
    status_code=status.HTTP_201_CREATED,
    summary="A read-only public link to the report's live figures (its secret is shown once)",
)
async def create_share_link(
    ctx: CurrentOrg, report_id: CanonicalUUID, request: Request, data: schemas.ShareLinkCreate | None = None
) -> schemas.ShareLinkCreated:
    return await saved.create_link(ctx, report_id, data or schemas.ShareLinkCreate(), _base(request))


@router.delete(
    SAVED + "/{report_id}/links/{link_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke a share link (it stops working at once)",
)
async def revoke_share_link(ctx: CurrentOrg, report_id: CanonicalUUID, link_id: CanonicalUUID) -> Response:
    await saved.revoke_link(ctx, report_id, link_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


shared_router = APIRouter(prefix="/shared-reports", tags=["reports"])


@shared_router.get(
    "/{token}",
    summary="A shared report's live figures; the secret link is the credential, no sign-in needed",
)
async def shared_report(
    request: Request, response: Response, token: Annotated[str, Path(max_length=100)]
) -> schemas.SharedReport:
    db: Database = request.app.state.db
    async with db.transaction() as session:
        found = await saved.shared_view(session, token)
    if found is None:
        raise NotFound("No such shared report.")
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return found
