"""The per-day burn rollup (migration 0027) stays equal to a full recomputation from the entries.

A seeded random walk of 200 edits straight in Postgres (creates, edits of time, moves between
projects and days, billable/rate/currency changes, corrections and deletes) checks after every edit that
``project_burn_days`` equals the entries grouped by UTC day, and that ``project_burn`` (rollup) returns
exactly what the old full scan ``project_burn_scan`` returns, in several reader zones.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

RECOMPUTE = """
SELECT x.project_id, x.day, count(*) AS entries, sum(x.secs) AS seconds, coalesce(sum(x.amt), 0) AS amount,
       coalesce(sum(x.amt) FILTER (WHERE x.currency IS NOT NULL), 0) AS priced_amount
FROM (
    SELECT e.project_id, (e.start_at AT TIME ZONE 'UTC')::date AS day, e.currency, y.secs,
           CASE WHEN e.billable AND e.rate IS NOT NULL THEN round(e.rate * y.secs / 3600.0, 2) END AS amt
    FROM time_entries e
    CROSS JOIN LATERAL (
        SELECT coalesce(e.duration_seconds, extract(epoch FROM e.end_at - e.start_at)::int)::bigint
               + coalesce((SELECT sum(c.duration_delta_seconds) FROM time_entry_corrections c
                           WHERE c.org_id = e.org_id AND c.entry_id = e.id), 0) AS secs
    ) y
    WHERE e.org_id = $1 AND e.end_at IS NOT NULL
) x
GROUP BY x.project_id, x.day
"""

ZONES = ("UTC", "Pacific/Kiritimati", "America/Los_Angeles", "Asia/Kolkata")


async def _rows(db: Any, sql: str, org: uuid.UUID) -> set[tuple[Any, ...]]:
    return {tuple(r) for r in await db.fetch(sql, org)}


async def test_rollup_equals_full_recomputation_over_random_edits(owner_db: Any) -> None:
    db = owner_db
    org, first, second = await db.fetchrow(
        "SELECT org_id, min(id::text)::uuid, max(id::text)::uuid FROM projects GROUP BY org_id"
        " HAVING count(*) >= 2 ORDER BY org_id LIMIT 1"
    )
    projects = [first, second]
    await db.execute("SELECT set_config('app.org_id', $1, false)", str(org))
    users = [r[0] for r in await db.fetch("SELECT user_id FROM memberships WHERE org_id = $1 LIMIT 3", org)]
    await db.execute("SELECT set_config('app.user_id', $1, false)", str(users[0]))
    rng = random.Random(20)
    now = datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)

    def when() -> datetime:
        # Around the month boundaries, today, the current moment and a little in the future.
        base = rng.choice([today, today - timedelta(days=rng.randint(1, 70)), now, today + timedelta(days=1)])
        return base + timedelta(minutes=rng.randint(-600, 600))

    def closed() -> tuple[datetime, datetime | None, int | None]:
        start = when()
        end = None if rng.random() < 0.1 else start + timedelta(minutes=rng.randint(0, 300))
        duration = rng.choice([None, None, rng.randint(0, 20000)]) if end is not None else None
        return start, end, duration

    def pricing() -> tuple[bool, Decimal | None, str | None]:
        return (
            rng.random() < 0.7,
            rng.choice([None, Decimal("0"), Decimal(rng.randint(1, 25000)) / 100]),
            rng.choice([None, "EUR"]),
        )

    tx = db.transaction()
    await tx.start()
    try:
        entries: list[uuid.UUID] = []
        kinds: dict[str, int] = {}
        for _ in range(200):
            kind = rng.choice(
                ["create", "create", "time", "move", "price", "correct", "correct_undo", "close", "delete"]
                if entries
                else ["create"]
            )
            kinds[kind] = kinds.get(kind, 0) + 1
            target = rng.choice(entries) if entries else None
            if kind == "create":
                start, end, duration = closed()
                billable, rate, currency = pricing()
                if end is None:
                    await db.execute(
                        "UPDATE time_entries SET end_at = start_at WHERE org_id = $1 AND end_at IS NULL", org
                    )
                new = uuid.uuid4()
                await db.execute(
                    "INSERT INTO time_entries (org_id, id, user_id, project_id, start_at, end_at, duration_seconds,"
                    " billable, rate, currency, tags, source, no_overlap, created_by) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,"
                    " $9,$10,'{}','manual',false,$3)",
                    org, new, rng.choice(users), rng.choice(projects), start, end, duration,
                    billable, rate, currency,
                )  # fmt: skip
                entries.append(new)
            elif kind == "time":
                start, end, duration = closed()
                end = end or start
                await db.execute(
                    "UPDATE time_entries SET start_at = $3, end_at = $4, duration_seconds = $5"
                    " WHERE org_id = $1 AND id = $2",
                    org, target, start, end, duration,
                )  # fmt: skip
            elif kind == "move":
                await db.execute(
                    "UPDATE time_entries SET project_id = $3, start_at = start_at + $4, end_at = end_at + $4"
                    " WHERE org_id = $1 AND id = $2",
                    org, target, rng.choice(projects), timedelta(days=rng.randint(-3, 3), hours=rng.randint(-12, 12)),
                )  # fmt: skip
            elif kind == "price":
                billable, rate, currency = pricing()
                await db.execute(
                    "UPDATE time_entries SET billable = $3, rate = $4, currency = $5, description = 'x'"
                    " WHERE org_id = $1 AND id = $2",
                    org, target, billable, rate, currency,
                )  # fmt: skip
            elif kind == "correct":
                await db.execute(
                    "INSERT INTO time_entry_corrections (org_id, id, entry_id, duration_delta_seconds, reason,"
                    " created_by) VALUES ($1, $5, $2, $3, 'test', $4)",
                    org, target, rng.randint(-1800, 3600), users[0], uuid.uuid4(),
                )  # fmt: skip
            elif kind == "correct_undo":
                await db.execute(
                    "DELETE FROM time_entry_corrections WHERE org_id = $1 AND id = (SELECT id FROM"
                    " time_entry_corrections WHERE org_id = $1 AND entry_id = $2 LIMIT 1)",
                    org, target,
                )  # fmt: skip
                await db.execute(
                    "UPDATE time_entry_corrections SET duration_delta_seconds = duration_delta_seconds + 60"
                    " WHERE org_id = $1 AND entry_id = $2",
                    org, target,
                )  # fmt: skip
            elif kind == "close":
                await db.execute(
                    "UPDATE time_entries SET end_at = coalesce(end_at, start_at + interval '1 hour')"
                    " WHERE org_id = $1 AND id = $2",
                    org, target,
                )  # fmt: skip
            else:
                await db.execute("DELETE FROM time_entry_corrections WHERE org_id = $1 AND entry_id = $2", org, target)
                await db.execute("DELETE FROM time_entries WHERE org_id = $1 AND id = $2", org, target)
                entries.remove(target)

            rollup = await _rows(
                db,
                "SELECT project_id, day, entries, seconds, amount, priced_amount FROM project_burn_days"
                " WHERE org_id = $1",
                org,
            )
            assert rollup == await _rows(db, RECOMPUTE, org), kind
            for zone in ZONES:
                fast = await db.fetch(
                    "SELECT b.* FROM projects p, project_burn(p, $2) b WHERE p.org_id = $1 ORDER BY p.id", org, zone
                )
                full = await db.fetch(
                    "SELECT b.* FROM projects p, project_burn_scan(p, $2) b WHERE p.org_id = $1 ORDER BY p.id",
                    org,
                    zone,
                )
                assert [tuple(r) for r in fast] == [tuple(r) for r in full], (kind, zone)
        assert set(kinds) >= {"create", "time", "move", "price", "correct", "delete"}

        # An organization's deletion cascades its rollup rows away before (or after) its entries: taking an
        # entry away from a day that has no row any more must not write a negative row.
        await db.execute("DELETE FROM project_burn_days WHERE org_id = $1", org)
        await db.execute("DELETE FROM time_entry_corrections WHERE org_id = $1 AND entry_id = ANY($2)", org, entries)
        await db.execute("DELETE FROM time_entries WHERE org_id = $1 AND id = ANY($2)", org, entries)
        assert await db.fetchval("SELECT count(*) FROM project_burn_days WHERE org_id = $1", org) == 0
    finally:
        await tx.rollback()
