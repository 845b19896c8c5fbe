"""Domain events for outgoing webhooks: ONE emission function, called by domain services.

:func:`emit` writes the event into the current unit of work's outbox (backend/core/jobs.py), so it
commits with the change it announces or vanishes with it. The webhooks domain's ``fan_out_event`` job
later finds the organization's endpoints subscribed to it and delivers a signed copy to each.

Payloads are versioned and carry ids, never whole private objects: a receiver that wants more asks the
API, with its own credentials, which applies the usual access rules.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Final

from backend.core import jobs
from backend.core.models import utcnow

VERSION: Final = 1

#: Every event type an endpoint can subscribe to (``ping`` is sent only on request, to one endpoint).
EVENT_TYPES: Final = (
    "time_entry.created",
    "time_entry.updated",
    "time_entry.deleted",
    "timer.started",
    "timer.stopped",
    "timesheet.submitted",
    "timesheet.approved",
    "timesheet.rejected",
    "period.locked",
    "member.joined",
    "member.removed",
    "export.completed",
)


def envelope(org_id: uuid.UUID, event_type: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The payload every receiver gets: ``{id, type, version, timestamp, org_id, data}``."""
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": event_type,
        "version": VERSION,
        "timestamp": utcnow().isoformat(),
        "org_id": str(org_id),
        "data": {key: (str(value) if isinstance(value, uuid.UUID) else value) for key, value in data.items()},
    }


def emit(org_id: uuid.UUID, event_type: str, **data: Any) -> None:
    """Announce ``event_type`` with ``data`` (ids and small scalars) to the organization's webhooks."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    jobs.send("fan_out_event", str(org_id), envelope(org_id, event_type, data))
