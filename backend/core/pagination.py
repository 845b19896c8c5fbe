"""Offset pagination: the query parameters, the page envelope, and one helper that runs both queries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")
R = TypeVar("R")

MAX_LIMIT = 200
# Deep offsets are slow and, past int64, a database error; page through at most this many items.
MAX_OFFSET = 100_000


class PageParams(BaseModel):
    limit: int
    offset: int


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


Paging = Annotated[PageParams, Depends(page_params)]


async def paginate(
    session: AsyncSession,
    query: Select[*tuple[Any, ...]],
    page: PageParams,
    item: Callable[[Any], R],
    *,
    order_by: Sequence[Any],
    scalars: bool = False,
) -> Page[R]:
    """Count ``query``'s rows, fetch one page of them in a stable order, and pack each with ``item``
    (given the entity when ``scalars`` is set, else the row)."""
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    paged = query.order_by(*order_by).limit(page.limit).offset(page.offset)
    rows: Sequence[Any] = (await session.scalars(paged)).all() if scalars else (await session.execute(paged)).all()
    return Page(items=[item(row) for row in rows], total=int(total or 0), limit=page.limit, offset=page.offset)
