"""What other domains use of time tracking (reports, exports, dashboards). The work itself lives in one
module per concept beside this one: ``entries``, ``timer``, ``timesheets``, ``locks`` (the period lock and
corrections), ``rates``, ``time_settings``, ``zones``, ``imports``; ``access`` holds who may touch which
entry. The router imports from those modules directly; other domains come through here only."""

from backend.tracking.access import led_projects, worker_context
from backend.tracking.entries import EntryFilters, list_entries
from backend.tracking.schemas import WeekWorktime, WorktimeDay
from backend.tracking.time_settings import rounding_rule
from backend.tracking.timesheets import (
    PendingSheet,
    TrackedDays,
    awaiting_approval,
    provide_week_worktime,
    tracked_days,
)
from backend.tracking.zones import iso_week, parse_week, time_zone_of

__all__ = [
    "EntryFilters",
    "PendingSheet",
    "TrackedDays",
    "WeekWorktime",
    "WorktimeDay",
    "awaiting_approval",
    "iso_week",
    "led_projects",
    "list_entries",
    "parse_week",
    "provide_week_worktime",
    "rounding_rule",
    "time_zone_of",
    "tracked_days",
    "worker_context",
]
