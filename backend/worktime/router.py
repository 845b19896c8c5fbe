from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from backend.core.pagination import Page, Paging
from backend.core.validation import CanonicalUUID
from backend.tenancy.context import CurrentOrg
from backend.worktime import schemas, service

router = APIRouter(prefix="/orgs/{org_id}/worktime", tags=["worktime"])


@router.get("/balance", summary="Expected, tracked and overtime per day, with the running balance")
async def read_balance(
    ctx: CurrentOrg,
    first: Annotated[date, Query(alias="from")],
    last: Annotated[date, Query(alias="to")],
    user_id: uuid.UUID | None = None,
) -> schemas.BalanceRead:
    return await service.balance(ctx, user_id, first, last)


@router.get("/contracts", summary="Working-time contracts (yours; everyone's for admins and auditors)")
async def list_contracts(ctx: CurrentOrg, page: Paging, user_id: uuid.UUID | None = None) -> Page[schemas.ContractRead]:
    return await service.list_contracts(ctx, page, user_id)


@router.post("/contracts", status_code=status.HTTP_201_CREATED, summary="Give a person a contract from a date")
async def create_contract(ctx: CurrentOrg, data: schemas.ContractCreate) -> schemas.ContractRead:
    return await service.create_contract(ctx, data)


@router.patch("/contracts/{contract_id}", summary="Change a contract's minutes or holiday calendar")
async def update_contract(
    ctx: CurrentOrg, contract_id: CanonicalUUID, data: schemas.ContractUpdate
) -> schemas.ContractRead:
    return await service.update_contract(ctx, contract_id, data)


@router.delete("/contracts/{contract_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a contract")
async def delete_contract(ctx: CurrentOrg, contract_id: CanonicalUUID) -> Response:
    await service.delete_contract(ctx, contract_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/holiday-calendars", summary="The organization's holiday calendars")
async def list_calendars(ctx: CurrentOrg) -> list[schemas.CalendarRead]:
    return await service.list_calendars(ctx)


@router.post("/holiday-calendars", status_code=status.HTTP_201_CREATED, summary="Add a holiday calendar")
async def create_calendar(ctx: CurrentOrg, data: schemas.CalendarCreate) -> schemas.CalendarRead:
    return await service.create_calendar(ctx, data)


@router.delete(
    "/holiday-calendars/{calendar_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete an unused calendar"
)
async def delete_calendar(ctx: CurrentOrg, calendar_id: CanonicalUUID) -> Response:
    await service.delete_calendar(ctx, calendar_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/holiday-calendars/{calendar_id}/holidays", summary="A calendar's holidays (of one year)")
async def list_holidays(
    ctx: CurrentOrg, calendar_id: CanonicalUUID, year: Annotated[int | None, Query(ge=1900, le=2999)] = None
) -> list[schemas.HolidayRead]:
    return await service.list_holidays(ctx, calendar_id, year)


@router.post("/holiday-calendars/{calendar_id}/holidays", status_code=status.HTTP_201_CREATED, summary="Add a holiday")
async def add_holiday(ctx: CurrentOrg, calendar_id: CanonicalUUID, data: schemas.HolidayCreate) -> schemas.HolidayRead:
    return await service.add_holiday(ctx, calendar_id, data)


@router.delete(
    "/holiday-calendars/{calendar_id}/holidays/{holiday_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a holiday",
)
async def delete_holiday(ctx: CurrentOrg, calendar_id: CanonicalUUID, holiday_id: CanonicalUUID) -> Response:
    await service.delete_holiday(ctx, calendar_id, holiday_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/absences", summary="Absences: yours (scope=mine) or those you may see (scope=team)")
async def list_absences(
    ctx: CurrentOrg,
    page: Paging,
    user_id: uuid.UUID | None = None,
    first: Annotated[date | None, Query(alias="from")] = None,
    last: Annotated[date | None, Query(alias="to")] = None,
    scope: Literal["mine", "team"] = "mine",
) -> Page[schemas.AbsenceRead]:
    return await service.list_absences(ctx, page, user_id, first, last, scope)


@router.post("/absences", status_code=status.HTTP_201_CREATED, summary="Record an absence (yours, or a team member's)")
async def create_absence(ctx: CurrentOrg, data: schemas.AbsenceCreate) -> schemas.AbsenceRead:
    return await service.create_absence(ctx, data)


@router.delete("/absences/{absence_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete an absence")
async def delete_absence(ctx: CurrentOrg, absence_id: CanonicalUUID) -> Response:
    await service.delete_absence(ctx, absence_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
