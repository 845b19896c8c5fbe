"""Reports: aggregates of time entries, computed in SQL (GROUP BY with date_trunc in the requested zone).

Every report reads through one *scope*, the same rule for every report and export:

- ``organization``: org managers, admins and owners (``team_report:read``) and auditors see everyone;
- ``led_projects``: someone who leads projects sees their own time plus everyone's on those projects;
- ``own``: everyone else sees their own time.

A figure is an entry's duration **plus its corrections** (append-only deltas); running entries are not
counted (the dashboard lists them separately). Amounts are the entry's stored rate times corrected hours,
rounded per entry to cents as an entry read shows them, summed per currency.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import text

from backend.core import audit
from backend.core.errors import UnprocessableContent
from backend.core.models import utcnow
from backend.reports import schemas
from backend.tenancy import guard
from backend.tenancy.context import OrgContext
from backend.tracking import service as tracking
from backend.worktime import service as worktime

DEFAULT_CAPACITY_HOURS = Decimal(40)
MAX_PERIOD_DAYS = schemas.MAX_PERIOD_DAYS
ScopeKind = Literal["organization", "led_projects", "own"]


@dataclass(frozen=True, slots=True)
class Scope:
    kind: ScopeKind
    user_id: uuid.UUID
    led: tuple[uuid.UUID, ...] = ()

    def where(self, alias: str = "e") -> str:
        if self.kind == "organization":
            return "TRUE"
        if self.kind == "led_projects":
            return f"({alias}.user_id = :me OR {alias}.project_id = ANY(CAST(:led AS uuid[])))"
        return f"{alias}.user_id = :me"

    def params(self) -> dict[str, Any]:
        return {"me": self.user_id, "led": list(self.led)}


async def scope_of(ctx: OrgContext, wanted: ScopeKind | None = None) -> Scope:
    """Whose time the caller's reports (and exports) contain: the widest their roles allow, or narrower on
    request (``wanted``); asking for the organization without ``team_report:read`` is a 403."""
    if wanted == "organization":
        guard.require(ctx, "team_report:read")
    if wanted == "own":
        return Scope("own", ctx.user_id)
    if guard.allowed(ctx, "team_report:read") and wanted != "led_projects":
        return Scope("organization", ctx.user_id)
    led = await tracking.led_projects(ctx)
    if led:
        return Scope("led_projects", ctx.user_id, tuple(led))
    return Scope("own", ctx.user_id)


def valid_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnprocessableContent(f"Unknown time zone '{name}'.", extra={"field": "tz"}) from None
    return name


def period(start: date, end: date, zone: str) -> tuple[datetime, datetime]:
    """[start 00:00, end + 1 day 00:00) in ``zone``, as UTC instants (``end`` is inclusive)."""
    if end < start:
        raise UnprocessableContent("'to' is before 'from'.", extra={"field": "to"})
    if (end - start).days > MAX_PERIOD_DAYS:
        raise UnprocessableContent(f"A report covers at most {MAX_PERIOD_DAYS} days.", extra={"field": "to"})
    tz = ZoneInfo(zone)
    first = datetime.combine(start, datetime.min.time(), tzinfo=tz)
    last = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    return first.astimezone(UTC), last.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Filters:
    projects: Sequence[uuid.UUID] = ()
    users: Sequence[uuid.UUID] = ()
    clients: Sequence[uuid.UUID] = ()
    tags: Sequence[str] = ()
    billable: bool | None = None
    approval: Sequence[str] = ()

    def where(self) -> str:
        clauses = []
        if self.projects:
            clauses.append("e.project_id = ANY(CAST(:f_projects AS uuid[]))")
        if self.users:
            clauses.append("e.user_id = ANY(CAST(:f_users AS uuid[]))")
        if self.clients:
            clauses.append("p.client_id = ANY(CAST(:f_clients AS uuid[]))")
        if self.tags:
            clauses.append("e.tags && CAST(:f_tags AS varchar[])")
        if self.billable is not None:
            clauses.append("e.billable = :f_billable")
        if self.approval:
            # The person's week, counted in their own zone, as the timesheet is.
            clauses.append(
                "coalesce((SELECT ts.status FROM timesheets ts WHERE ts.org_id = e.org_id AND ts.user_id = e.user_id"
                " AND ts.week_start = date_trunc('week', e.start_at AT TIME ZONE coalesce((SELECT mz.time_zone"
                " FROM member_time_zones mz WHERE mz.org_id = e.org_id AND mz.user_id = e.user_id), 'UTC'))::date),"
                " 'open') = ANY(CAST(:f_approval AS text[]))"
            )
        return " AND ".join(clauses) or "TRUE"

    def params(self) -> dict[str, Any]:
        return {
            "f_projects": list(self.projects),
            "f_users": list(self.users),
            "f_clients": list(self.clients),
            "f_tags": list(self.tags),
            "f_billable": self.billable,
            "f_approval": list(self.approval),
        }

    def describe(self) -> dict[str, Any]:
        return {
            "projects": [str(p) for p in self.projects],
            "users": [str(u) for u in self.users],
            "clients": [str(c) for c in self.clients],
            "tags": list(self.tags),
            "billable": self.billable,
            "approval": list(self.approval),
        }


# An entry's figures: its duration plus its corrections, rounded by the organization's rule (up, down or
# to the nearest step, on the weekdays the rule names, counted in the person's own zone, so an entry
# rounds the same in every report and export); its amount from that, rounded to cents as reads show it.
# Stored entries are never rounded.
RAW_SECONDS = (
    "(coalesce(e.duration_seconds, extract(epoch FROM e.end_at - e.start_at)::int)::bigint + coalesce(c.delta, 0))"
)
_STEP = "(ts.rounding_minutes * 60)"
SECONDS = f"""(CASE
    WHEN ts.rounding_mode IS NULL OR ts.rounding_mode = 'none'
        OR NOT (extract(isodow FROM e.start_at AT TIME ZONE coalesce(mz.time_zone, 'UTC'))::smallint
                = ANY(ts.rounding_weekdays))
        THEN {RAW_SECONDS}
    WHEN ts.rounding_mode = 'up' THEN ceil({RAW_SECONDS} / {_STEP}::numeric)::bigint * {_STEP}
    WHEN ts.rounding_mode = 'down' THEN floor({RAW_SECONDS} / {_STEP}::numeric)::bigint * {_STEP}
    ELSE round({RAW_SECONDS} / {_STEP}::numeric)::bigint * {_STEP}
END)"""
ENTRY_SOURCE = f"""
    SELECT e.*, p.client_id, p.name AS project_name, {SECONDS} AS secs,
           CASE WHEN e.billable AND e.rate IS NOT NULL
                THEN round(e.rate * {SECONDS} / 3600.0, 2) END AS amount
    FROM time_entries e
    JOIN projects p ON p.org_id = e.org_id AND p.id = e.project_id
    LEFT JOIN (SELECT entry_id, sum(duration_delta_seconds)::bigint AS delta
               FROM time_entry_corrections WHERE org_id = :org GROUP BY entry_id) c ON c.entry_id = e.id
    LEFT JOIN time_settings ts ON ts.org_id = e.org_id
    LEFT JOIN member_time_zones mz ON mz.org_id = e.org_id AND mz.user_id = e.user_id
    WHERE e.org_id = :org AND e.end_at IS NOT NULL AND e.start_at >= :start AND e.start_at < :end
"""


@dataclass(frozen=True)
class GroupKey:
    """How a report groups by one key, in two stages: entries are summed per ``raw`` value (narrow:
    a uuid, a timestamp), then the few summed rows are rolled up, given their text ``key`` and a
    ``label`` (``{r}`` stands for the summed row's raw value; ``join`` finds what the label needs)."""

    raw: str
    key: str = "{r}::text"
    label: str = "{r}::text"
    join: str = ""


KEYS: dict[str, GroupKey] = {
    "project": GroupKey(
        "x.project_id", label="min(pj.name)", join="LEFT JOIN projects pj ON pj.org_id = :org AND pj.id = {r}"
    ),
    "client": GroupKey(
        "x.client_id", label="min(cl.name)", join="LEFT JOIN clients cl ON cl.org_id = :org AND cl.id = {r}"
    ),
    "user": GroupKey(
        "x.user_id", label="min(coalesce(u.display_name, u.username, u.email))", join="LEFT JOIN users u ON u.id = {r}"
    ),
    "task": GroupKey("x.task_id", label="min(tk.title)", join="LEFT JOIN tasks tk ON tk.org_id = :org AND tk.id = {r}"),
    "tag": GroupKey("tg.tag"),
    "day": GroupKey(
        "date_trunc('day', x.start_at AT TIME ZONE :tz)",
        key="to_char({r}, 'YYYY-MM-DD')",
        label="to_char({r}, 'YYYY-MM-DD')",
    ),
    "week": GroupKey(
        "date_trunc('week', x.start_at AT TIME ZONE :tz)",
        key="to_char({r}, 'IYYY-\"W\"IW')",
        label="to_char({r}, 'YYYY-MM-DD')",
    ),
    "month": GroupKey(
        "date_trunc('month', x.start_at AT TIME ZONE :tz)",
        key="to_char({r}, 'YYYY-MM')",
        label="to_char({r}, 'YYYY-MM')",
    ),
}

# One row per tag (NULL for none) when grouping by tag; "first" marks the entry's first tag row, so sets
# without the tag key count every entry once.
TAG_JOIN = (
    "LEFT JOIN LATERAL unnest(CASE WHEN cardinality(x.tags) = 0 THEN ARRAY[NULL]::varchar[] ELSE x.tags END)"
    " WITH ORDINALITY AS tg(tag, n) ON true"
)


def _figures(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    duration = billable = entries = 0
    amounts: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        duration += int(row["secs"] or 0)
        billable += int(row["billable_secs"] or 0)
        entries += int(row["entries"] or 0)
        if row["currency"] is not None and row["amount"] is not None:
            amounts[row["currency"]] += Decimal(row["amount"])
    return {
        "duration_seconds": duration,
        "billable_seconds": billable,
        "entries": entries,
        "amounts": [schemas.Amount(currency=cur, amount=amt) for cur, amt in sorted(amounts.items())],
    }


async def time_report(
    ctx: OrgContext,
    start: date,
    end: date,
    zone: str,
    group_by: Sequence[str],
    filters: Filters,
    wanted: ScopeKind | None = None,
) -> schemas.TimeReport:
    guard.require(ctx, "report:read")
    zone = valid_zone(zone)
    if len(group_by) > 2 or len(set(group_by)) != len(group_by):
        raise UnprocessableContent("group_by takes up to two different keys.", extra={"field": "group_by"})
    first, last = period(start, end, zone)
    scope = await scope_of(ctx, wanted)
    keys = list(group_by)
    tagged = "tag" in keys
    raws = [f"leaf.r{i}" for i in range(len(keys))]
    # Stage one sums the entries per raw key value and currency (a narrow, cheap aggregate); with tags,
    # an entry stands in one row per tag, so "once" sums count it a single time for the sets without tags.
    once = "(tg.n IS NULL OR tg.n = 1)" if tagged else "TRUE"
    leaf = ", ".join(
        [
            *(f"{KEYS[k].raw} AS r{i}" for i, k in enumerate(keys)),
            "x.currency",
            "sum(x.secs) AS secs",
            "sum(x.secs) FILTER (WHERE x.billable) AS billable_secs",
            "count(*) AS entries",
            "sum(x.amount) AS amount",
            f"sum(x.secs) FILTER (WHERE {once}) AS secs_once",
            f"sum(x.secs) FILTER (WHERE x.billable AND {once}) AS billable_secs_once",
            f"count(*) FILTER (WHERE {once}) AS entries_once",
            f"sum(x.amount) FILTER (WHERE {once}) AS amount_once",
        ]
    )
    # Stage two rolls the few summed rows up and names them.
    cols = []
    for i, (k, raw) in enumerate(zip(keys, raws, strict=True)):
        spec = KEYS[k]
        cols += [
            f"{spec.key.replace('{r}', raw)} AS k{i}",
            f"{spec.label.replace('{r}', raw)} AS l{i}",
            f"GROUPING({raw}) AS g{i}",
        ]
    joins = " ".join(KEYS[k].join.replace("{r}", raw) for k, raw in zip(keys, raws, strict=True) if KEYS[k].join)
    sets = ["(" + ", ".join([*raws[:depth], "leaf.currency"]) + ")" for depth in range(len(keys), -1, -1)]
    tag_grouped = f"GROUPING(leaf.r{keys.index('tag')}) = 0" if tagged else "FALSE"

    def figure(name: str) -> str:
        return f"CASE WHEN {tag_grouped} THEN sum(leaf.{name}) ELSE sum(leaf.{name}_once) END AS {name}"

    sql = f"""
        WITH x AS ({ENTRY_SOURCE} AND {scope.where()} AND {filters.where()}),
        leaf AS (
            SELECT {leaf} FROM x {TAG_JOIN if tagged else ""}
            GROUP BY {", ".join([*(f"r{i}" for i in range(len(keys))), "x.currency"])}
        )
        SELECT {", ".join([*cols, "leaf.currency"])},
          {figure("secs")}, {figure("billable_secs")}, {figure("entries")}, {figure("amount")}
        FROM leaf {joins}
        GROUP BY GROUPING SETS ({", ".join(sets)})
    """
    params = {"org": ctx.org_id, "start": first, "end": last, "tz": zone, **scope.params(), **filters.params()}
    rows = [dict(r) for r in (await ctx.session.execute(text(sql), params)).mappings()]

    def level(row: Mapping[str, Any]) -> int:
        return sum(1 for i in range(len(keys)) if row[f"g{i}"] == 0)

    totals = _figures(r for r in rows if level(r) == 0)
    tops: dict[Any, list[Mapping[str, Any]]] = defaultdict(list)
    leaves: dict[Any, dict[Any, list[Mapping[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    labels: dict[tuple[int, Any], Any] = {}
    for row in rows:
        depth = level(row)
        if depth >= 1:
            labels[(0, row["k0"])] = row["l0"]
        if depth == 1:
            tops[row["k0"]].append(row)
        elif depth == 2:
            labels[(1, row["k1"])] = row["l1"]
            leaves[row["k0"]][row["k1"]].append(row)

    def sort_key(item: tuple[Any, Any]) -> tuple[bool, str]:
        return (item[0] is None, str(item[0]))

    groups = []
    for key, group_rows in sorted(tops.items(), key=sort_key):
        children = [
            schemas.Group(by=keys[1], key=k1, label=labels[(1, k1)], **_figures(child))
            for k1, child in sorted(leaves[key].items(), key=sort_key)
        ]
        groups.append(
            schemas.Group(
                by=keys[0],
                key=key,
                label=labels[(0, key)],
                groups=children,
                **_figures(group_rows),
            )
        )
    return schemas.TimeReport(
        period_start=first,
        period_end=last,
        time_zone=zone,
        group_by=keys,
        scope=scope.kind,
        groups=groups,
        totals=schemas.Figures(**totals),
    )


def resolve_range(name: str, zone: str, today: date | None = None) -> tuple[date, date]:
    """A relative range's first and last day (inclusive), counted from ``today`` in ``zone``."""
    day = today or utcnow().astimezone(ZoneInfo(zone)).date()
    monday = day - timedelta(days=day.weekday())
    month = day.replace(day=1)
    last_month = (month - timedelta(days=1)).replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    ranges = {
        "today": (day, day),
        "yesterday": (day - timedelta(days=1), day - timedelta(days=1)),
        "this_week": (monday, monday + timedelta(days=6)),
        "last_week": (monday - timedelta(days=7), monday - timedelta(days=1)),
        "this_month": (month, next_month - timedelta(days=1)),
        "last_month": (last_month, month - timedelta(days=1)),
        "this_year": (date(day.year, 1, 1), date(day.year, 12, 31)),
        "last_year": (date(day.year - 1, 1, 1), date(day.year - 1, 12, 31)),
        "last_7_days": (day - timedelta(days=6), day),
        "last_30_days": (day - timedelta(days=29), day),
    }
    if name not in ranges:
        raise UnprocessableContent(f"Unknown range '{name}'.", extra={"field": "range"})
    return ranges[name]


def filters_of(query: schemas.TimeReportQuery) -> Filters:
    return Filters(
        projects=query.project_id,
        users=query.user_id,
        clients=query.client_id,
        tags=query.tag,
        billable=query.billable,
        approval=query.approval,
    )


async def run_time_query(ctx: OrgContext, query: schemas.TimeReportQuery) -> schemas.TimeReport:
    """The time report for a query (the route's, or a saved report's): a relative range is resolved now."""
    guard.require(ctx, "report:read")
    if query.range is not None:
        start, end = resolve_range(query.range, valid_zone(query.tz))
    else:
        if query.from_ is None or query.to is None:  # the schema demands both; kept for the type checker
            raise UnprocessableContent("Give from and to, or a range.", extra={"field": "from"})
        start, end = query.from_, query.to
    return await time_report(ctx, start, end, query.tz, query.group_by, filters_of(query), query.scope)


# --- timesheet grid --------------------------------------------------------------------------------


def month_or_week(week: str | None, month: str | None) -> tuple[date, date]:
    if (week is None) == (month is None):
        raise UnprocessableContent("Give either week (2026-W48) or month (2026-11).", extra={"field": "week"})
    if week is not None:
        monday = tracking.parse_week(week)
        return monday, monday + timedelta(days=7)
    try:
        year, number = (int(part) for part in str(month).split("-"))
        first = date(year, number, 1)
    except ValueError:
        raise UnprocessableContent(f"'{month}' is not a month such as 2026-11.", extra={"field": "month"}) from None
    following = date(year + number // 12, number % 12 + 1, 1)
    return first, following


def _iso_week(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


async def timesheet_report(
    ctx: OrgContext, week: str | None, month: str | None, zone: str, users: Sequence[uuid.UUID]
) -> schemas.TimesheetReport:
    guard.require(ctx, "report:read")
    zone = valid_zone(zone)
    first_day, end_day = month_or_week(week, month)
    first, last = period(first_day, end_day - timedelta(days=1), zone)
    scope = await scope_of(ctx)
    filters = Filters(users=users)
    params = {"org": ctx.org_id, "start": first, "end": last, "tz": zone, **scope.params(), **filters.params()}
    # Query 1: seconds per person and day.
    cells = (
        await ctx.session.execute(
            text(f"""
            WITH x AS ({ENTRY_SOURCE} AND {scope.where()} AND {filters.where()})
            SELECT x.user_id, (x.start_at AT TIME ZONE :tz)::date AS day, sum(x.secs) AS secs
            FROM x GROUP BY 1, 2
            """),
            params,
        )
    ).all()
    # Query 2: the people in view and their timesheets' states for the weeks touched.
    monday = first_day - timedelta(days=first_day.weekday())
    people_sql = (
        "SELECT m.user_id, coalesce(u.display_name, u.username, u.email) AS name FROM memberships m"
        " JOIN users u ON u.id = m.user_id WHERE m.org_id = :org AND m.status = 'active' AND m.role <> 'auditor'"
    )
    if scope.kind != "organization":
        people_sql += (
            " AND (m.user_id = :me OR m.user_id IN (SELECT e.user_id FROM time_entries e WHERE e.org_id = :org"
            " AND e.project_id = ANY(CAST(:led AS uuid[])) AND e.start_at >= :start AND e.start_at < :end))"
        )
    if users:
        people_sql += " AND m.user_id = ANY(CAST(:f_users AS uuid[]))"
    people = (
        await ctx.session.execute(
            text(f"""
            SELECT pe.user_id, pe.name, ts.week_start, ts.status
            FROM ({people_sql}) pe
            LEFT JOIN timesheets ts ON ts.org_id = :org AND ts.user_id = pe.user_id
                 AND ts.week_start >= :monday AND ts.week_start < :end_day
            ORDER BY pe.name NULLS LAST, pe.user_id
            """),
            {**params, "monday": monday, "end_day": end_day},
        )
    ).all()
    by_person: dict[uuid.UUID, dict[date, int]] = defaultdict(dict)
    for user_id, day, secs in cells:
        by_person[user_id][day] = int(secs)
    days = [first_day + timedelta(days=i) for i in range((end_day - first_day).days)]
    names: dict[uuid.UUID, str | None] = {}
    statuses: dict[uuid.UUID, dict[date, str]] = defaultdict(dict)
    for user_id, name, week_start, status in people:
        names[user_id] = name
        if week_start is not None:
            statuses[user_id][week_start] = status
    mondays = sorted({d - timedelta(days=d.weekday()) for d in days})
    rows = []
    for user_id, name in names.items():
        seconds = by_person.get(user_id, {})
        rows.append(
            schemas.TimesheetRow(
                user_id=user_id,
                name=name,
                days=[schemas.TimesheetCell(day=d, duration_seconds=seconds.get(d, 0)) for d in days],
                weeks=[
                    schemas.TimesheetWeek(
                        week=_iso_week(m),
                        week_start=m,
                        status=statuses[user_id].get(m, "open"),
                        duration_seconds=sum(v for d, v in seconds.items() if m <= d < m + timedelta(days=7)),
                    )
                    for m in mondays
                ],
                total_seconds=sum(seconds.values()),
            )
        )
    return schemas.TimesheetReport(
        period_start=first_day, period_end=end_day, time_zone=zone, days=days, people=rows, scope=scope.kind
    )


# --- projects against budget -----------------------------------------------------------------------


def _percent(used: Decimal | None, limit: Decimal | None) -> Decimal | None:
    if used is None or not limit:
        return None
    return (used * 100 / limit).quantize(Decimal("0.1"))


async def _project_figures(
    ctx: OrgContext, zone: str, scope: Scope, *, over_budget_only: bool = False
) -> list[schemas.ProjectFigures]:
    """One query: each visible project's all-time figures, and its budget burn from ``project_burn``
    (migration 0013; the project read uses the same function), a monthly budget counting the
    current month in ``zone``. ``over_budget_only``: the all-time figures (a scan of the projects'
    entries) only for the projects ``project_burn`` (a rollup read, migration 0027) finds over budget,
    found by a query of their own first."""
    now = utcnow()
    project_scope = "TRUE"
    # Whose entries count against the budget, per project: everyone's, or only the caller's own share.
    only_user = "NULL::uuid"
    if scope.kind != "organization":
        # A lead's projects; a member sees the projects with their own time (their share of it).
        project_scope = (
            "(p.id = ANY(CAST(:led AS uuid[])) OR EXISTS (SELECT 1 FROM time_entries o WHERE o.org_id = p.org_id"
            " AND o.project_id = p.id AND o.user_id = :me))"
        )
        only_user = "CASE WHEN p.id = ANY(CAST(:led AS uuid[])) THEN NULL ELSE CAST(:me AS uuid) END"
        if scope.kind == "own":
            only_user = "CAST(:me AS uuid)"
    params = {"org": ctx.org_id, "start": datetime(1970, 1, 1, tzinfo=UTC), "end": now, "tz": zone, **scope.params()}
    entries_of = ""
    if over_budget_only:
        # First the few projects over budget (the rollup read, no entry scan), then all-time figures of
        # those alone: with none over budget, no entry is read at all.
        over = (
            await ctx.session.scalars(
                text(f"""
                SELECT p.id FROM projects p CROSS JOIN LATERAL project_burn(p, :tz, {only_user}) b
                WHERE p.org_id = :org AND p.archived_at IS NULL AND {project_scope} AND b.over_budget
                """),
                params,
            )
        ).all()
        if not over:
            return []
        params["over"] = list(over)
        project_scope = f"({project_scope}) AND p.id = ANY(CAST(:over AS uuid[]))"
        entries_of = " AND e.project_id = ANY(CAST(:over AS uuid[]))"
    rows = (
        await ctx.session.execute(
            text(f"""
            WITH x AS ({ENTRY_SOURCE} AND {scope.where()}{entries_of})
            SELECT p.id, p.name, p.client_id, p.estimate_hours, p.budget_kind, p.budget_period, p.budget_amount,
                   x.currency,
                   coalesce(sum(x.secs), 0) AS secs,
                   coalesce(sum(x.secs) FILTER (WHERE x.billable), 0) AS billable_secs,
                   sum(x.amount) AS amount,
                   b.budget_used, b.burn_percent, b.over_budget
            FROM projects p
            CROSS JOIN LATERAL project_burn(p, :tz, {only_user}) b
            LEFT JOIN x ON x.project_id = p.id
            WHERE p.org_id = :org AND p.archived_at IS NULL AND {project_scope}
            GROUP BY p.org_id, p.id, x.currency, b.budget_used, b.burn_percent, b.over_budget
            ORDER BY p.name, p.id
            """),
            params,
        )
    ).mappings()
    grouped: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["id"], []).append(dict(row))
    result = []
    for project_rows in grouped.values():
        head = project_rows[0]
        secs = sum(int(r["secs"]) for r in project_rows)
        amounts: dict[str, Decimal] = defaultdict(Decimal)
        for r in project_rows:
            if r["currency"] and r["amount"] is not None:
                amounts[r["currency"]] += r["amount"]
        hours = (Decimal(secs) / 3600).quantize(Decimal("0.01"))
        result.append(
            schemas.ProjectFigures(
                project_id=head["id"],
                name=head["name"],
                client_id=head["client_id"],
                duration_seconds=secs,
                billable_seconds=sum(int(r["billable_secs"]) for r in project_rows),
                amounts=[schemas.Amount(currency=c, amount=a) for c, a in sorted(amounts.items())],
                estimate_hours=head["estimate_hours"],
                budget_kind=head["budget_kind"],
                budget_period=head["budget_period"],
                budget_amount=head["budget_amount"],
                budget_used=head["budget_used"],
                burn_percent=head["burn_percent"],
                estimate_percent=_percent(hours, head["estimate_hours"]),
                over_budget=head["over_budget"],
                over_estimate=head["estimate_hours"] is not None and hours > head["estimate_hours"],
            )
        )
    return result


async def projects_report(ctx: OrgContext, zone: str) -> schemas.ProjectsReport:
    guard.require(ctx, "report:read")
    zone = valid_zone(zone)
    scope = await scope_of(ctx)
    return schemas.ProjectsReport(time_zone=zone, scope=scope.kind, projects=await _project_figures(ctx, zone, scope))


# --- productivity ----------------------------------------------------------------------------------


def _weekdays(start: date, end: date) -> int:
    return sum(1 for i in range((end - start).days + 1) if (start + timedelta(days=i)).weekday() < 5)


async def productivity_report(ctx: OrgContext, start: date, end: date, zone: str) -> schemas.ProductivityReport:
    guard.require(ctx, "report:read")
    zone = valid_zone(zone)
    first, last = period(start, end, zone)
    scope = await scope_of(ctx)
    people = "TRUE"
    if scope.kind != "organization":
        people = (
            "(m.user_id = :me OR m.user_id IN (SELECT e.user_id FROM time_entries e WHERE e.org_id = :org"
            " AND e.project_id = ANY(CAST(:led AS uuid[])) AND e.start_at >= :start AND e.start_at < :end))"
        )
    rows = (
        await ctx.session.execute(
            text(f"""
            WITH x AS ({ENTRY_SOURCE} AND {scope.where()}),
            per AS (
                SELECT x.user_id, sum(x.secs) AS secs, sum(x.secs) FILTER (WHERE x.billable) AS billable_secs,
                       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM time_entry_corrections tc
                                                     WHERE tc.org_id = x.org_id AND tc.entry_id = x.id)) AS corrected
                FROM x GROUP BY x.user_id
            )
            SELECT m.user_id, coalesce(u.display_name, u.username, u.email) AS name, cap.weekly_hours,
                   coalesce(per.secs, 0) AS secs, coalesce(per.billable_secs, 0) AS billable_secs,
                   coalesce(per.corrected, 0) AS corrected
            FROM memberships m JOIN users u ON u.id = m.user_id
            LEFT JOIN member_capacities cap ON cap.org_id = m.org_id AND cap.user_id = m.user_id
            LEFT JOIN per ON per.user_id = m.user_id
            WHERE m.org_id = :org AND m.status = 'active' AND m.role <> 'auditor' AND {people}
            ORDER BY 2 NULLS LAST, 1
            """),
            {"org": ctx.org_id, "start": first, "end": last, "tz": zone, **scope.params()},
        )
    ).mappings()
    weekdays = _weekdays(start, end)
    members = []
    for row in rows:
        capacity = row["weekly_hours"] if row["weekly_hours"] is not None else DEFAULT_CAPACITY_HOURS
        expected = int(capacity * 3600 * weekdays / 5)
        secs, billable = int(row["secs"]), int(row["billable_secs"])
        members.append(
            schemas.MemberProductivity(
                user_id=row["user_id"],
                name=row["name"],
                weekly_capacity_hours=capacity,
                expected_seconds=expected,
                tracked_seconds=secs,
                billable_seconds=billable,
                utilization_percent=_percent(Decimal(secs), Decimal(expected)),
                billable_ratio=(Decimal(billable) / secs).quantize(Decimal("0.001")) if secs else None,
                corrected_after_lock=int(row["corrected"]),
            )
        )
    return schemas.ProductivityReport(
        period_start=first, period_end=last, time_zone=zone, scope=scope.kind, members=members
    )


async def set_capacity(ctx: OrgContext, user_id: uuid.UUID, data: schemas.CapacitySet) -> schemas.CapacityRead:
    guard.require(ctx, "capacity:manage")
    member = await ctx.session.scalar(
        text("SELECT 1 FROM memberships WHERE org_id = :org AND user_id = :user AND status = 'active'"),
        {"org": ctx.org_id, "user": user_id},
    )
    if member is None:
        raise UnprocessableContent("No such member in this organization.", extra={"field": "user_id"})
    before = await ctx.session.scalar(
        text("SELECT weekly_hours FROM member_capacities WHERE org_id = :org AND user_id = :user"),
        {"org": ctx.org_id, "user": user_id},
    )
    await ctx.session.execute(
        text(
            "INSERT INTO member_capacities (org_id, user_id, weekly_hours) VALUES (:org, :user, :hours)"
            " ON CONFLICT (org_id, user_id) DO UPDATE SET weekly_hours = EXCLUDED.weekly_hours, updated_at = now()"
        ),
        {"org": ctx.org_id, "user": user_id, "hours": data.weekly_hours},
    )
    await audit.record_in(
        ctx,
        action="capacity.set",
        resource_type="membership",
        resource_id=user_id,
        before={"weekly_hours": str(before) if before is not None else None},
        after={"weekly_hours": str(data.weekly_hours)},
    )
    return schemas.CapacityRead(user_id=user_id, weekly_hours=data.weekly_hours)


# --- dashboard -------------------------------------------------------------------------------------


@dataclass
class _Week:
    monday: date
    start: datetime
    end: datetime
    days: list[date] = field(default_factory=list)


async def dashboard(ctx: OrgContext, zone: str | None) -> schemas.Dashboard:
    """This week (in ``zone``, default the caller's own zone) at a glance, in one call."""
    guard.require(ctx, "dashboard:read")
    zone = valid_zone(zone or await tracking.time_zone_of(ctx, ctx.user_id))
    scope = await scope_of(ctx)
    today = utcnow().astimezone(ZoneInfo(zone)).date()
    monday = today - timedelta(days=today.weekday())
    start, end = period(monday, monday + timedelta(days=6), zone)
    week = _Week(monday, start, end, [monday + timedelta(days=i) for i in range(7)])
    params = {"org": ctx.org_id, "start": week.start, "end": week.end, "tz": zone, **scope.params()}
    # Query 1: this week's seconds per member, day and project (members and top projects come from it).
    cells = (
        await ctx.session.execute(
            text(f"""
            WITH x AS ({ENTRY_SOURCE} AND {scope.where()})
            SELECT x.user_id, coalesce(u.display_name, u.username, u.email) AS name,
                   (x.start_at AT TIME ZONE :tz)::date AS day, x.project_id, x.project_name, sum(x.secs) AS secs
            FROM x JOIN users u ON u.id = x.user_id
            GROUP BY 1, 2, 3, 4, 5
            """),
            params,
        )
    ).mappings()
    people: dict[uuid.UUID, tuple[str | None, dict[date, int]]] = {}
    projects: dict[uuid.UUID, list[Any]] = {}
    for row in cells:
        _, days = people.setdefault(row["user_id"], (row["name"], defaultdict(int)))
        days[row["day"]] += int(row["secs"])
        projects.setdefault(row["project_id"], [row["project_name"], 0])[1] += int(row["secs"])
    this_week = [
        schemas.DashboardMember(
            user_id=user_id,
            name=name,
            days=[schemas.DayCell(day=d, duration_seconds=days.get(d, 0)) for d in week.days],
            total_seconds=sum(days.values()),
        )
        for user_id, (name, days) in sorted(people.items(), key=lambda item: str(item[1][0]))
    ]
    top = sorted(projects.items(), key=lambda item: -item[1][1])[:5]
    # Query 2: timers running now.
    running = (
        await ctx.session.execute(
            text(f"""
            SELECT e.id, e.user_id, coalesce(u.display_name, u.username, u.email) AS name, e.project_id,
                   p.name AS project_name, e.start_at
            FROM time_entries e JOIN users u ON u.id = e.user_id
            JOIN projects p ON p.org_id = e.org_id AND p.id = e.project_id
            WHERE e.org_id = :org AND e.end_at IS NULL AND {scope.where()}
            ORDER BY e.start_at
            """),
            scope.params() | {"org": ctx.org_id},
        )
    ).mappings()
    now = utcnow()
    timers = [
        schemas.RunningTimer(
            entry_id=r["id"],
            user_id=r["user_id"],
            name=r["name"],
            project_id=r["project_id"],
            project_name=r["project_name"],
            start_at=r["start_at"],
            elapsed_seconds=max(0, int((now - r["start_at"]).total_seconds())),
        )
        for r in running
    ]
    pending = [
        schemas.PendingTimesheet(
            id=s.id, user_id=s.user_id, name=s.name, week=s.week, submitted_at=s.submitted_at,
            absences=await worktime.absences_in_week(ctx, s.user_id, tracking.parse_week(s.week)),
        )
        for s in await tracking.awaiting_approval(ctx)
    ]  # fmt: skip
    over = await _project_figures(ctx, zone, scope, over_budget_only=True)
    return schemas.Dashboard(
        week=_iso_week(monday),
        time_zone=zone,
        scope=scope.kind,
        this_week=this_week,
        top_projects=[schemas.TopProject(project_id=pid, name=n, duration_seconds=s) for pid, (n, s) in top],
        running_timers=timers,
        awaiting_my_approval=pending,
        over_budget=over,
        worktime=await worktime.team_week(ctx, [m.user_id for m in this_week], monday),
    )


# --- the rows behind exports -----------------------------------------------------------------------


def _safe(expression: str) -> str:
    """A text cell that a spreadsheet would run as a formula gets a leading apostrophe (OWASP CSV
    injection: cells starting with = + - @, a tab or a carriage return)."""
    return f"CASE WHEN {expression} ~ '^[=+@\\t\\r-]' THEN '''' || {expression} ELSE {expression} END"


ISO = "'YYYY-MM-DD\"T\"HH24:MI:SSTZH:TZM'"
EXPORT_COLUMNS: dict[str, list[str]] = {
    "detailed": [
        "entry_id", "date", "start", "end", "user_id", "person", "project_id", "project", "client", "task_id",
        "task", "description", "tags", "billable", "duration_seconds", "correction_seconds",
        "corrected_seconds", "hours", "rate", "currency", "amount",
    ],
    "timesheet": ["user_id", "person", "date", "week", "approval", "seconds", "hours", "billable_seconds"],
    "summary": ["project_id", "project", "client", "user_id", "person", "currency", "entries", "seconds", "hours",
                "billable_seconds", "amount"],
}  # fmt: skip


def export_query(kind: str, scope: Scope, filters: Filters) -> str:
    """The SELECT an export streams (``COPY (…) TO STDOUT``), with named parameters :org, :start, :end,
    :me, :led and the filters'. Times are rendered in the session's TimeZone, which the caller sets to
    the export's zone inside the same transaction."""
    source = f"{ENTRY_SOURCE} AND {scope.where()} AND {filters.where()}"
    person = "coalesce(u.display_name, u.username, u.email)"
    if kind == "detailed":
        return f"""
            SELECT x.id AS entry_id, to_char(x.start_at, 'YYYY-MM-DD') AS date,
                   to_char(x.start_at, {ISO}) AS start, to_char(x.end_at, {ISO}) AS "end",
                   x.user_id, {_safe(person)} AS person, x.project_id, {_safe("x.project_name")} AS project,
                   {_safe("cl.name")} AS client, x.task_id, {_safe("tk.title")} AS task,
                   {_safe("x.description")} AS description, {_safe("array_to_string(x.tags, ';')")} AS tags,
                   x.billable, coalesce(x.duration_seconds, extract(epoch FROM x.end_at - x.start_at)::int)
                   AS duration_seconds, x.secs - coalesce(x.duration_seconds,
                   extract(epoch FROM x.end_at - x.start_at)::int) AS correction_seconds, x.secs AS corrected_seconds,
                   round(x.secs / 3600.0, 2) AS hours, x.rate, x.currency, x.amount
            FROM ({source}) x JOIN users u ON u.id = x.user_id
            LEFT JOIN clients cl ON cl.org_id = x.org_id AND cl.id = x.client_id
            LEFT JOIN tasks tk ON tk.org_id = x.org_id AND tk.id = x.task_id
            ORDER BY x.start_at, x.id
        """
    if kind == "timesheet":
        return f"""
            SELECT d.user_id, {_safe(person)} AS person, d.day AS date, to_char(d.day, 'IYYY-"W"IW') AS week,
                   coalesce(ts.status, 'open') AS approval, d.secs AS seconds, round(d.secs / 3600.0, 2) AS hours,
                   d.billable_secs AS billable_seconds
            FROM (SELECT x.user_id, date_trunc('day', x.start_at)::date AS day, sum(x.secs) AS secs,
                         coalesce(sum(x.secs) FILTER (WHERE x.billable), 0) AS billable_secs
                  FROM ({source}) x GROUP BY 1, 2) d
            JOIN users u ON u.id = d.user_id
            LEFT JOIN timesheets ts ON ts.org_id = :org AND ts.user_id = d.user_id
                 AND ts.week_start = date_trunc('week', d.day)::date
            ORDER BY person, d.user_id, d.day
        """
    return f"""
        SELECT s.project_id, {_safe("p.name")} AS project, {_safe("cl.name")} AS client, s.user_id,
               {_safe(person)} AS person, s.currency, s.entries, s.secs AS seconds,
               round(s.secs / 3600.0, 2) AS hours, s.billable_secs AS billable_seconds, s.amount
        FROM (SELECT x.project_id, x.user_id, x.currency, count(*) AS entries, sum(x.secs) AS secs,
                     coalesce(sum(x.secs) FILTER (WHERE x.billable), 0) AS billable_secs, sum(x.amount) AS amount
              FROM ({source}) x GROUP BY 1, 2, 3) s
        JOIN projects p ON p.org_id = :org AND p.id = s.project_id
        LEFT JOIN clients cl ON cl.org_id = p.org_id AND cl.id = p.client_id
        JOIN users u ON u.id = s.user_id
        ORDER BY project, person, s.currency NULLS LAST
    """


def export_count_query(kind: str, scope: Scope, filters: Filters) -> str:
    """How many rows :func:`export_query` yields (for an export's progress). A detailed export has one
    row per entry, so its entries are counted without the joins, formatting and sort of the export."""
    if kind == "detailed":
        return f"SELECT count(*) FROM ({ENTRY_SOURCE} AND {scope.where()} AND {filters.where()}) x"
    return f"SELECT count(*) FROM ({export_query(kind, scope, filters)}) q"


async def period_state(ctx: OrgContext, first: datetime, last: datetime, scope: Scope) -> dict[str, Any]:
    """The period's lock and the approval states of the timesheets it touches (for a manifest)."""
    row = (
        await ctx.session.execute(
            text(f"""
            SELECT (SELECT locked_until FROM time_settings WHERE org_id = :org) AS locked_until,
                   (SELECT coalesce(jsonb_object_agg(status, n), '{{}}'::jsonb) FROM (
                        SELECT ts.status, count(*) AS n FROM timesheets ts
                        WHERE ts.org_id = :org AND ts.week_start >= (:start)::date - 6 AND ts.week_start < :end
                          AND {scope.where("ts").replace("ts.project_id", "NULL::uuid")}
                        GROUP BY ts.status) s) AS sheets
            """),
            {"org": ctx.org_id, "start": first, "end": last, **scope.params()},
        )
    ).one()
    locked_until = row.locked_until
    return {
        "locked_until": locked_until.isoformat() if locked_until else None,
        "fully_locked": bool(locked_until and locked_until >= last),
        "timesheets": dict(row.sheets),
    }
