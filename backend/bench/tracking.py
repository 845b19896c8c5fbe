"""Time tracking under ``make bench``: 1,000,000 entries in one organization, then in-process (httpx
ASGITransport, no wrk) timings of creating an entry, starting + stopping the timer and listing one
person's week, next to the same week's list as bare SQL on the runtime role."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

BENCH_SLUG = "bench-time"
ENTRIES, PEOPLE, PROJECTS = 1_000_000, 50, 10
EPOCH = datetime(2023, 1, 2, tzinfo=UTC)  # a Monday; each person's entries run forward from here
WEEK_LIST_VS_SQL = 1.5


async def load_entries(superuser_dsn: str, alice: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID, str]:
    """(org id, the person whose week is listed, a project alice may log on); loaded once with COPY as
    the superuser. Each person's entries are one hour long, 90 minutes apart: no overlaps."""
    import asyncpg

    connection = await asyncpg.connect(superuser_dsn.rsplit("/", 1)[0] + "/worktime")
    try:
        org_id = await connection.fetchval("SELECT id FROM organizations WHERE slug = $1", BENCH_SLUG)
        if org_id is None:
            started = time.perf_counter()
            org_id = uuid.uuid4()
            people = [uuid.uuid4() for _ in range(PEOPLE)]
            projects = [uuid.uuid4() for _ in range(PROJECTS)]
            async with connection.transaction():
                await connection.execute(
                    "INSERT INTO organizations (id, slug, name) VALUES ($1, $2, 'Bench time')", org_id, BENCH_SLUG
                )
                await connection.copy_records_to_table(
                    "users", records=[(p, f"{p}@bench.test") for p in people], columns=["id", "email"]
                )
                await connection.copy_records_to_table(
                    "memberships",
                    records=[(org_id, alice, "owner"), *[(org_id, p, "member") for p in people]],
                    columns=["org_id", "user_id", "role"],
                )
                await connection.copy_records_to_table(
                    "projects",
                    records=[(p, org_id, f"Project {n}", f"P{n}") for n, p in enumerate(projects)],
                    columns=["id", "org_id", "name", "key"],
                )
                await connection.copy_records_to_table(
                    "project_memberships",
                    records=[(org_id, projects[n % PROJECTS], p, "contributor") for n, p in enumerate(people)],
                    columns=["org_id", "project_id", "user_id", "role"],
                )
                per_person = ENTRIES // PEOPLE

                def rows() -> list[tuple[object, ...]]:
                    out: list[tuple[object, ...]] = []
                    for n, person in enumerate(people):
                        project = projects[n % PROJECTS]
                        for k in range(per_person):
                            start = EPOCH + timedelta(minutes=90 * k)
                            out.append(
                                (org_id, uuid.uuid4(), person, project, start, start + timedelta(hours=1), 3600,
                                 True, [], True, "manual", person)
                            )  # fmt: skip
                    return out

                await connection.copy_records_to_table(
                    "time_entries",
                    records=rows(),
                    columns=[
                        "org_id", "id", "user_id", "project_id", "start_at", "end_at", "duration_seconds",
                        "billable", "tags", "no_overlap", "source", "created_by",
                    ],
                )  # fmt: skip
            await connection.execute("ANALYZE time_entries")
            print(f"loaded {ENTRIES} time entries in one organization in {time.perf_counter() - started:.1f} s")
        person = await connection.fetchval(
            "SELECT user_id FROM memberships WHERE org_id = $1 AND role = 'member' ORDER BY user_id LIMIT 1", org_id
        )
        project = await connection.fetchval("SELECT id FROM projects WHERE org_id = $1 ORDER BY name LIMIT 1", org_id)
        return org_id, person, str(project)
    finally:
        await connection.close()


def _p(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.99) - 1)]


async def _timed(rounds: int, call: Callable[[int], Awaitable[None]]) -> tuple[float, float]:
    for n in range(10):
        await call(-1 - n)
    samples = []
    for n in range(rounds):
        started = time.perf_counter()
        await call(n)
        samples.append((time.perf_counter() - started) * 1000)
    return _p(samples)


async def run(
    app: FastAPI, headers: dict[str, str], database_url: str, loaded: tuple[uuid.UUID, uuid.UUID, str]
) -> bool:
    """Print the time tracking lines; True when the week list is within the target of bare SQL."""
    import asyncpg

    org_id, person, project = loaded
    base = f"/api/v1/orgs/{org_id}"
    week_from = EPOCH + timedelta(days=7 * 100)
    params = {"user_id": str(person), "from": week_from.isoformat(), "to": (week_from + timedelta(days=7)).isoformat()}
    run_id = time.time_ns() % 10_000_000  # fresh slots per bench run: alice's entries go back from now
    lines: list[tuple[str, tuple[float, float]]] = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http:

        async def create(n: int) -> None:
            start = datetime.now(UTC) - timedelta(days=3000) + timedelta(minutes=(run_id + n * 7) % 4_000_000)
            body = {
                "project_id": project,
                "start_at": start.isoformat(),
                "end_at": (start + timedelta(minutes=5)).isoformat(),
            }
            response = await http.post(f"{base}/time-entries", json=body, headers=headers)
            if response.status_code not in (201, 409):
                response.raise_for_status()

        async def timer(_: int) -> None:
            (await http.post(f"{base}/timer", json={"project_id": project}, headers=headers)).raise_for_status()
            (await http.post(f"{base}/timer/stop", headers=headers)).raise_for_status()

        async def week(_: int) -> None:
            (await http.get(f"{base}/time-entries", params=params, headers=headers)).raise_for_status()

        lines.append(("POST time-entries (create)", await _timed(200, create)))
        lines.append(("POST timer + POST timer/stop", await _timed(100, timer)))
        lines.append(("GET time-entries (one user's week)", await _timed(300, week)))

    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:

        async def bare(_: int) -> None:
            async with connection.transaction():
                await connection.execute("SELECT set_config('app.org_id', $1, true)", str(org_id))
                await connection.fetchval(
                    "SELECT count(*) FROM time_entries WHERE org_id = $1 AND user_id = $2"
                    " AND start_at >= $3 AND start_at < $4",
                    org_id, person, week_from, week_from + timedelta(days=7),
                )  # fmt: skip
                await connection.fetch(
                    "SELECT * FROM time_entries WHERE org_id = $1 AND user_id = $2 AND start_at >= $3"
                    " AND start_at < $4 ORDER BY start_at DESC, id DESC LIMIT 50",
                    org_id, person, week_from, week_from + timedelta(days=7),
                )  # fmt: skip

        lines.append(("bare SQL: the same week (count + page)", await _timed(300, bare)))
    finally:
        await connection.close()

    print(f"\ntime tracking, in process ({ENTRIES:,} entries in one organization):")
    print(f"{'scenario':<42}{'p50 ms':>9}{'p99 ms':>9}")
    for label, (p50, p99) in lines:
        print(f"{label:<42}{p50:>9.2f}{p99:>9.2f}")
    ratio = lines[2][1][0] / lines[3][1][0]
    ok = ratio <= WEEK_LIST_VS_SQL
    print(f"  {'PASS' if ok else 'FAIL'}  week list p50 = {ratio:.2f}x bare SQL  (target <= {WEEK_LIST_VS_SQL}x)")
    return ok
