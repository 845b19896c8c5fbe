"""What other domains use of time tracking (reports, exports, dashboards). The work itself lives in one
module per concept beside this one: ``entries``, ``timer``, ``timesheets``, ``locks`` (the period lock and
corrections), ``rates``, ``time_settings``, ``zones``, ``imports``; ``access`` holds who may touch which
entry. The router imports from those modules directly; other domains come through here only."""

from backend.tracking.access import led_projects, worker_context
from backend.tracking.entries import EntryFilters, list_entries
from backend.tracking.time_settings import rounding_rule
from backend.tracking.timesheets import PendingSheet, awaiting_approval
from backend.tracking.zones import parse_week, time_zone_of

__all__ = [
    "EntryFilters",
    "PendingSheet",
    "awaiting_approval",
    "led_projects",
    "list_entries",
    "parse_week",
    "rounding_rule",
    "time_zone_of",
    "worker_context",
]
