"""Read routes under ``make bench``, each against a bare replay of its own SQL.

For each route the bench records every statement (and its parameters) the app sends to Postgres while it
answers once, then times two things, alternating: the route through the whole app (in process, httpx
ASGITransport), and the recorded statements replayed on one plain asyncpg connection in one transaction.
The ratio is what our Python costs on top of the database work the route needs, whatever that work is.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.bench.tracking import EPOCH

ROUNDS = 40


@dataclass(frozen=True, slots=True)
class RouteFigure:
    label: str
    statements: int
    app_ms: float
    bare_ms: float
    failed: str | None = None  # the route's error: shown in the table, never hidden
    in_database_ms: float = 0.0  # of app_ms: from handing a statement to the driver to its rows back

    @property
    def ratio(self) -> float:
        return self.app_ms / self.bare_ms


@contextmanager
def _recorded(engine: AsyncEngine) -> Iterator[list[tuple[str, Sequence[Any]]]]:
    sent: list[tuple[str, Sequence[Any]]] = []

    def statement(_conn: object, _cursor: object, sql: str, parameters: Any, *_: object) -> None:
        sent.append((sql, tuple(parameters or ())))

    event.listen(engine.sync_engine, "before_cursor_execute", statement)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", statement)


@contextmanager
def _database_time(engine: AsyncEngine) -> Iterator[list[float]]:
    """Seconds each statement spent between the driver call and its result (round trip + decoding)."""
    spent: list[float] = []
    started: list[float] = []

    def before(*_: object) -> None:
        started.append(time.perf_counter())

    def after(*_: object) -> None:
        spent.append(time.perf_counter() - started.pop())

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    event.listen(engine.sync_engine, "after_cursor_execute", after)
    try:
        yield spent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)
        event.remove(engine.sync_engine, "after_cursor_execute", after)


async def _in_database_ms(engine: AsyncEngine, call: Callable[[], Awaitable[None]], rounds: int = 10) -> float:
    samples = []
    for _ in range(rounds):
        with _database_time(engine) as spent:
            await call()
        samples.append(sum(spent) * 1000)
    return statistics.median(samples)


async def _median_ms(call: Callable[[], Awaitable[None]], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


async def compare_routes(
    app: FastAPI,
    engine: AsyncEngine,
    database_url: str,
    headers: dict[str, str],
    routes: Sequence[tuple[str, str, dict[str, Any]]],
) -> list[RouteFigure]:
    """``routes``: (label, path, query parameters). Each must answer 2xx."""
    import asyncpg

    figures = []
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http:
            for label, path, params in routes:

                async def through_app(path: str = path, params: dict[str, Any] = params) -> None:
                    (await http.get(path, params=params, headers=headers)).raise_for_status()

                warm = await http.get(path, params=params, headers=headers)  # the user row, caches
                if warm.status_code >= 300:
                    detail = warm.json().get("title", "") if warm.content else ""
                    figures.append(RouteFigure(label, 0, 0.0, 1.0, failed=f"HTTP {warm.status_code} {detail}"))
                    continue
                with _recorded(engine) as sent:
                    await through_app()
                recorded = list(sent)

                async def bare(recorded: list[tuple[str, Sequence[Any]]] = recorded) -> None:
                    async with connection.transaction():
                        for sql, parameters in recorded:
                            await connection.fetch(sql, *parameters)

                await bare()
                app_runs, bare_runs = [], []
                try:
                    for _ in range(2):  # alternating halves, so a busy moment hits both
                        app_runs.append(await _median_ms(through_app, ROUNDS // 2))
                        bare_runs.append(await _median_ms(bare, ROUNDS // 2))
                except httpx.HTTPStatusError as exc:
                    failed = f"HTTP {exc.response.status_code}"
                    figures.append(RouteFigure(label, len(recorded), 0.0, 1.0, failed=failed))
                    continue
                app_ms, bare_ms = statistics.mean(app_runs), statistics.mean(bare_runs)
                in_database = await _in_database_ms(engine, through_app)
                figures.append(RouteFigure(label, len(recorded), app_ms, bare_ms, in_database_ms=in_database))
    finally:
        await connection.close()
    return figures


def print_routes(figures: Sequence[RouteFigure]) -> None:
    print("\nread routes against a bare replay of their own SQL (one asyncpg connection, one transaction);")
    print("'in DB' is the app's own time in driver calls (round trips, decoding), the rest is our Python:")
    print(f"  {'route':<56}{'stmts':>6}{'app p50 ms':>12}{'in DB':>8}{'Python':>8}{'bare p50 ms':>13}{'app/bare':>10}")
    for f in figures:
        if f.failed:
            print(f"  {f.label:<56}  FAILED: {f.failed}")
            continue
        python_ms = max(0.0, f.app_ms - f.in_database_ms)
        print(
            f"  {f.label:<56}{f.statements:>6}{f.app_ms:>12.2f}{f.in_database_ms:>8.2f}{python_ms:>8.2f}"
            f"{f.bare_ms:>13.2f}{f.ratio:>9.2f}x"
        )


def _iso_week(day: datetime) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def standard_routes(org_id: uuid.UUID, person: uuid.UUID, project: str) -> list[tuple[str, str, dict[str, Any]]]:
    base = f"/api/v1/orgs/{org_id}"
    week_from = EPOCH + timedelta(days=7 * 100)
    week = {"user_id": str(person), "from": week_from.isoformat(), "to": (week_from + timedelta(days=7)).isoformat()}
    month = {"from": "2024-03-01", "to": "2024-03-31", "group_by": ["project", "day"]}
    # What the reports explorer asks by default for a filtered view: a zone, two levels, billable only.
    explorer = {
        "from": "2024-03-01",
        "to": "2024-03-31",
        "tz": "Europe/Berlin",
        "group_by": ["project", "user"],
        "billable": "true",
    }
    return [
        ("GET time-entries (one person's week)", f"{base}/time-entries", week),
        ("GET reports/time (org month, project x day)", f"{base}/reports/time", month),
        ("GET reports/time (explorer: billable, project x person)", f"{base}/reports/time", explorer),
        # (reports/projects is left out: its all-time totals scan every entry, ~1M here; see docs/operations.md)
        ("GET reports/timesheet (that week, everyone)", f"{base}/reports/timesheet", {"week": _iso_week(week_from)}),
        ("GET dashboard", f"{base}/dashboard", {}),
        ("GET tasks (a project's, first page)", f"{base}/projects/{project}/tasks", {}),
    ]
