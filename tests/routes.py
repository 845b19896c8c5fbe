"""What the route walks send: a valid body or query for every route that needs one.

A walk fails when a route has no entry here and needs one (422), so a new route is walked from day one.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

# Routes that act on the caller alone, never on an organization's data.
SELF_SERVICE = {
    ("POST", "/api/v1/auth/backchannel-logout"),  # Keycloak's call: the signed logout token is the credential
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/me/invitations"),
    ("GET", "/api/v1/orgs"),
    ("POST", "/api/v1/orgs"),
    # Public: the feed's secret URL is the credential, and no organization is named (tests/integrations walk it).
    ("GET", "/api/v1/calendar-feeds/{token}.ics"),
    # The caller's own notifications, across organizations (row-level security shows only theirs).
    ("GET", "/api/v1/me/notifications"),
    ("POST", "/api/v1/me/notifications/{notification_id}/read"),
    # Public: home-realm discovery answers before anyone signs in, for no organization (tests/sso walk it).
    ("GET", "/api/v1/sso/discover"),
    # Public: a shared report's secret link is the credential (tests/reports/test_saved_reports.py walks it).
    ("GET", "/api/v1/shared-reports/{token}"),
}
# Routes only an invitee reaches (walked as a freshly invited person).
INVITEE_ROUTES = {
    ("POST", "/api/v1/orgs/{org_id}/invitations/accept"),
    ("POST", "/api/v1/orgs/{org_id}/invitations/decline"),
}
_IN_A_MONTH = (datetime.now(UTC) + timedelta(days=30)).isoformat()
# The customer IdP realm on the stack's Keycloak (keycloak/globex-idp.json), for SSO provider routes.
_CUSTOMER_IDP = f"{os.environ.get('WORKTIME_KEYCLOAK_URL', 'http://127.0.0.1:58080')}/realms/globex-idp"
SSO_PROVIDER = {
    "kind": "oidc",
    "display_name": "Walked IdP",
    "discovery_url": _CUSTOMER_IDP,
    "client_id": "worktime",
    "client_secret": "globex-idp-dev-secret",
}
# A receiver on loopback (allowed outside production); nothing listens, so deliveries fail and are logged.
WEBHOOK = {"url": "http://127.0.0.1:9/walked", "events": ["time_entry.created"]}
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/orgs/{org_id}/webhooks"): WEBHOOK,
    ("PATCH", "/api/v1/orgs/{org_id}/webhooks/{webhook_id}"): {"description": "walked"},
    ("POST", "/api/v1/orgs/{org_id}/reminder-rules"): {"kind": "no_time_logged", "local_time": "17:00"},
    ("PATCH", "/api/v1/orgs/{org_id}/reminder-rules/{rule_id}"): {"name": "walked"},
    ("PUT", "/api/v1/orgs/{org_id}/me/reminder-mutes"): {"muted": ["approval_waiting"]},
    ("POST", "/api/v1/orgs/{org_id}/export-schedules"): {
        "name": "Walked schedule",
        "cadence": "weekly",
        "weekday": 1,
        "local_time": "08:00",
        "period": "previous_week",
        "recipients": ["{me_id}"],
    },
    ("PATCH", "/api/v1/orgs/{org_id}/export-schedules/{schedule_id}"): {"name": "walked"},
    ("PUT", "/api/v1/orgs/{org_id}/me/calendar-feed"): {"days_back": 30},
    ("POST", "/api/v1/orgs/{org_id}/sso/providers"): SSO_PROVIDER,
    ("PATCH", "/api/v1/orgs/{org_id}/sso/providers/{provider_id}"): {"display_name": "Walked again"},
    ("POST", "/api/v1/orgs/{org_id}/sso/domains"): {"domain": "{new_domain}"},
    ("POST", "/api/v1/orgs/{org_id}/sso/role-mappings"): {"value": "{new_domain}", "role": "member"},
    ("PATCH", "/api/v1/orgs/{org_id}/sso/settings"): {"default_role": "member"},
    ("POST", "/api/v1/orgs/{org_id}/personal-tokens"): {"name": "Walked token", "expires_at": _IN_A_MONTH},
    ("PATCH", "/api/v1/orgs/{org_id}"): {"name": "Renamed by the walk"},
    ("PUT", "/api/v1/orgs/{org_id}/security"): {"require_mfa_for_admins": False},
    ("POST", "/api/v1/orgs/{org_id}/members/invitations"): {"email": "alice@acme.test", "role": "member"},
    ("PATCH", "/api/v1/orgs/{org_id}/members/{user_id}"): {"role": "member"},
    ("POST", "/api/v1/orgs/{org_id}/projects"): {"name": "Walked project"},
    ("PATCH", "/api/v1/orgs/{org_id}/projects/{project_id}"): {"description": "walked"},
    ("PUT", "/api/v1/orgs/{org_id}/projects/{project_id}/members/{user_id}"): {"role": "viewer"},
    # Time tracking ("{…}" strings are filled with the walk's ids, see fill())
    ("POST", "/api/v1/orgs/{org_id}/time-entries"): {
        "project_id": "{project_id}",
        "start_at": "2026-01-06T09:00:00Z",
        "end_at": "2026-01-06T10:00:00Z",
    },
    ("PATCH", "/api/v1/orgs/{org_id}/time-entries"): {"ids": ["{entry_id}"], "changes": {"description": "walked"}},
    ("DELETE", "/api/v1/orgs/{org_id}/time-entries"): {"ids": ["{entry_id}"]},
    ("POST", "/api/v1/orgs/{org_id}/time-entries/recalculate-rates"): {
        "from": "2026-01-01T00:00:00Z",
        "to": "2026-02-01T00:00:00Z",
        "project_id": "{project_id}",
    },
    ("PATCH", "/api/v1/orgs/{org_id}/time-entries/{entry_id}"): {"description": "walked"},
    ("POST", "/api/v1/orgs/{org_id}/time-entries/{entry_id}/corrections"): {
        "duration_delta_seconds": 60,
        "reason": "walked",
    },
    ("POST", "/api/v1/orgs/{org_id}/timer"): {"project_id": "{project_id}"},
    ("POST", "/api/v1/orgs/{org_id}/timesheets/submit"): {"week": "2026-W03"},
    ("POST", "/api/v1/orgs/{org_id}/timesheets/{timesheet_id}/reject"): {"reason": "walked"},
    ("PATCH", "/api/v1/orgs/{org_id}/time-settings"): {"max_future_minutes": 1440},
    ("PUT", "/api/v1/orgs/{org_id}/time-lock"): {"locked_until": "2000-01-01T00:00:00Z"},
    ("PUT", "/api/v1/orgs/{org_id}/rates"): {"project_id": "{project_id}", "amount": "10"},
    ("PUT", "/api/v1/orgs/{org_id}/time-zone"): {"time_zone": "Europe/Berlin"},
    ("POST", "/api/v1/orgs/{org_id}/time-imports"): {"source": "toggl", "csv": "User,Email\n", "dry_run": True},
    ("POST", "/api/v1/orgs/{org_id}/clients"): {"name": "Walked client"},
    ("PATCH", "/api/v1/orgs/{org_id}/clients/{client_id}"): {"notes": "walked"},
    ("POST", "/api/v1/orgs/{org_id}/projects/{project_id}/tasks"): {"title": "Walked task"},
    ("PATCH", "/api/v1/orgs/{org_id}/projects/{project_id}/tasks/{task_id}"): {"description": "walked"},
    ("POST", "/api/v1/orgs/{org_id}/projects/{project_id}/tasks/{task_id}/comments"): {"body": "walked"},
    ("PATCH", "/api/v1/orgs/{org_id}/projects/{project_id}/tasks/{task_id}/comments/{comment_id}"): {"body": "walked"},
    ("POST", "/api/v1/orgs/{org_id}/notes"): {"title": "Walked note"},
    ("PATCH", "/api/v1/orgs/{org_id}/notes/{note_id}"): {"body": "walked"},
    # The walker is the note's author: past the guard, sharing with oneself is a 422.
    ("POST", "/api/v1/orgs/{org_id}/notes/{note_id}/shares"): {"user_id": "7a1b0000-0000-4000-8000-000000000001"},
    ("POST", "/api/v1/orgs/{org_id}/events"): {
        "title": "Walked event",
        "starts_at": "2026-12-01T09:00:00Z",
        "ends_at": "2026-12-01T10:00:00Z",
    },
    ("PATCH", "/api/v1/orgs/{org_id}/events/{event_id}"): {"location": "walked"},
    ("PUT", "/api/v1/orgs/{org_id}/events/{event_id}/rsvp"): {"response": "accepted"},
    ("POST", "/api/v1/orgs/{org_id}/events/{event_id}/cancellations"): {"occurrence_start": "2026-12-08T09:00:00Z"},
    ("POST", "/api/v1/orgs/{org_id}/decisions"): {"title": "Walked decision"},
    ("PATCH", "/api/v1/orgs/{org_id}/decisions/{decision_id}"): {"context": "walked"},
    ("POST", "/api/v1/orgs/{org_id}/decisions/{decision_id}/supersede"): {
        "superseded_by": "00000000-0000-4000-8000-000000000000"
    },
    ("PUT", "/api/v1/orgs/{org_id}/reports/capacities/{user_id}"): {"weekly_hours": 32},
    ("POST", "/api/v1/orgs/{org_id}/saved-reports"): {"name": "Walked report", "query": {"range": "last_month"}},
    ("PATCH", "/api/v1/orgs/{org_id}/saved-reports/{report_id}"): {"name": "Walked again"},
    ("POST", "/api/v1/orgs/{org_id}/saved-reports/{report_id}/links"): {"expires_in_days": 7},
    ("PUT", "/api/v1/orgs/{org_id}/exports/settings"): {"retention_hours": 720},
    # Working time
    ("POST", "/api/v1/orgs/{org_id}/worktime/contracts"): {
        "user_id": "{me_id}",
        "valid_from": "2026-01-05",
        "weekday_minutes": [480, 480, 480, 480, 480, 0, 0],
    },
    ("PATCH", "/api/v1/orgs/{org_id}/worktime/contracts/{contract_id}"): {"weekday_minutes": [0, 0, 0, 0, 0, 0, 0]},
    ("POST", "/api/v1/orgs/{org_id}/worktime/holiday-calendars"): {"name": "Walked calendar"},
    ("POST", "/api/v1/orgs/{org_id}/worktime/holiday-calendars/{calendar_id}/holidays"): {
        "day": "2026-01-06",
        "name": "Walked holiday",
    },
    ("POST", "/api/v1/orgs/{org_id}/worktime/absences"): {
        "kind": "vacation",
        "first_day": "2026-01-07",
        "last_day": "2026-01-07",
    },
    ("POST", "/api/v1/orgs/{org_id}/exports"): {
        "kind": "summary",
        "format": "csv",
        "from": "2026-01-01",
        "to": "2026-01-31",
    },
}
# The work-item tables a cross-tenant walk checks for changes.
WORK_TABLES = (
    "clients",
    "tasks",
    "task_assignees",
    "task_comments",
    "task_attachments",
    "notes",
    "note_shares",
    "events",
    "event_attendees",
    "event_cancellations",
    "saved_reports",
    "report_share_links",
    "holiday_calendars",
    "holidays",
    "work_contracts",
    "absences",
)
QUERIES: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/api/v1/orgs/{org_id}/events"): {"from": "2026-11-30T00:00:00Z", "to": "2027-01-01T00:00:00Z"},
    ("GET", "/api/v1/orgs/{org_id}/me/permissions/explain"): {"permission": "project:read"},
    ("GET", "/api/v1/orgs/{org_id}/timesheets"): {"week": "2026-W02"},
    ("GET", "/api/v1/orgs/{org_id}/reports/time"): {"from": "2026-01-01", "to": "2026-01-31", "group_by": "project"},
    ("GET", "/api/v1/orgs/{org_id}/reports/timesheet"): {"week": "2026-W02"},
    ("GET", "/api/v1/orgs/{org_id}/worktime/balance"): {"from": "2026-01-05", "to": "2026-01-11"},
    ("GET", "/api/v1/orgs/{org_id}/reports/productivity"): {"from": "2026-01-01", "to": "2026-01-31"},
}


def fill(value: Any, ids: dict[str, str]) -> Any:
    """A body with its "{name}" strings replaced by the walk's ids."""
    if isinstance(value, dict):
        return {key: fill(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, ids) for item in value]
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    return value


async def prepare_tracking(
    client: httpx.AsyncClient, org_id: str, project_id: str, headers: dict[str, str]
) -> dict[str, str]:
    """Real rows for the time tracking routes that take an id: an entry in a submitted week, a running
    timer and an import (so reads answer 200 and writes reach their decision)."""
    base = f"/api/v1/orgs/{org_id}"
    entry = await client.post(
        f"{base}/time-entries",
        json={"project_id": project_id, "start_at": "2026-01-05T09:00:00Z", "end_at": "2026-01-05T10:00:00Z"},
        headers=headers,
    )
    assert entry.status_code == 201, entry.text
    sheet = await client.post(f"{base}/timesheets/submit", json={"week": "2026-W02"}, headers=headers)
    assert sheet.status_code == 200, sheet.text
    timer = await client.post(f"{base}/timer", json={"project_id": project_id}, headers=headers)
    assert timer.status_code == 201, timer.text
    imported = await client.post(
        f"{base}/time-imports", json={"source": "toggl", "csv": "User,Email\n", "dry_run": True}, headers=headers
    )
    assert imported.status_code == 202, imported.text
    return {"entry_id": entry.json()["id"], "timesheet_id": sheet.json()["id"], "import_id": imported.json()["id"]}


async def prepare_exports(client: httpx.AsyncClient, org_id: str, headers: dict[str, str]) -> dict[str, str]:
    """A finished export (made here by the job function itself, no worker needed), so its reads answer 200."""
    from backend.exports.tasks import run_export

    made = await client.post(
        f"/api/v1/orgs/{org_id}/exports",
        json={"kind": "detailed", "format": "csv", "from": "2026-01-01", "to": "2026-01-31"},
        headers=headers,
    )
    assert made.status_code == 202, made.text
    await run_export.fn(org_id, made.json()["id"])
    # And an owner's full-data export (backend/orgs/offboarding.py), finished the same way.
    from backend.orgs.tasks import run_offboarding_export

    full = await client.post(f"/api/v1/orgs/{org_id}/offboarding/export", headers=headers)
    assert full.status_code == 202, full.text
    await run_offboarding_export.fn(org_id, full.json()["id"])
    return {"export_id": made.json()["id"], "offboarding_export_id": full.json()["id"]}


# Writes that work in an archived organization by design: the owner's full-data export (a read of the
# data) and scheduling or cancelling the deletion, which is about the archived state itself
# (tests/orgs/test_offboarding.py covers them there).
ARCHIVED_WRITES = {
    ("POST", "/api/v1/orgs/{org_id}/offboarding"),
    ("DELETE", "/api/v1/orgs/{org_id}/offboarding"),
    ("POST", "/api/v1/orgs/{org_id}/offboarding/export"),
}


def is_write(method: str) -> bool:
    return method not in {"GET", "HEAD", "OPTIONS"}


async def work_items(
    client: httpx.AsyncClient, headers: dict[str, str], org_id: str, project_id: str
) -> dict[str, str]:
    """One of each work item in ``org_id`` (made by an owner), so route walks reach real rows: a read of
    an existing row must answer 200, a write to it must reach the guard."""
    base = f"/api/v1/orgs/{org_id}"
    made = await client.post(f"{base}/clients", json={"name": f"Walk client {uuid.uuid4().hex[:6]}"}, headers=headers)
    assert made.status_code == 201, made.text
    ids = {"client_id": made.json()["id"]}
    tasks = f"{base}/projects/{project_id}/tasks"
    made = await client.post(tasks, json={"title": "Walk task"}, headers=headers)
    assert made.status_code == 201, made.text
    ids["task_id"] = made.json()["id"]
    made = await client.post(f"{tasks}/{ids['task_id']}/comments", json={"body": "Walk comment"}, headers=headers)
    assert made.status_code == 201, made.text
    ids["comment_id"] = made.json()["id"]
    # Upload routes read multipart, not the walks' JSON: past the guard they answer 415.
    made = await client.post(
        f"{tasks}/{ids['task_id']}/attachments",
        files={"file": ("walk.txt", b"walked\n", "text/plain")},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    ids["attachment_id"] = made.json()["id"]
    made = await client.post(f"{base}/notes", json={"title": "Walk note", "body": "walked"}, headers=headers)
    assert made.status_code == 201, made.text
    ids["note_id"] = made.json()["id"]
    made = await client.post(f"{base}/notes/{ids['note_id']}/shares", json={"project_id": project_id}, headers=headers)
    assert made.status_code == 200, made.text
    ids["share_id"] = made.json()["id"]
    me = (await client.get("/api/v1/me", headers=headers)).json()["id"]
    made = await client.post(
        f"{base}/events",
        json={
            "title": "Walk weekly",
            "starts_at": "2026-12-01T09:00:00Z",
            "ends_at": "2026-12-01T10:00:00Z",
            "rrule": "FREQ=WEEKLY;COUNT=10",
            "attendee_ids": [me],
        },
        headers=headers,
    )
    assert made.status_code == 201, made.text
    ids["event_id"] = made.json()["id"]
    made = await client.post(
        f"{base}/decisions", json={"title": "Walk decision", "project_id": project_id}, headers=headers
    )
    assert made.status_code == 201, made.text
    ids["decision_id"] = made.json()["id"]
    made = await client.post(
        f"{base}/personal-tokens", json={"name": "Walk token", "expires_at": _IN_A_MONTH}, headers=headers
    )
    assert made.status_code == 201, made.text
    ids["token_id"] = made.json()["id"]
    made = await client.post(f"{base}/sso/providers", json=SSO_PROVIDER, headers=headers)
    assert made.status_code == 201, made.text
    ids["provider_id"] = made.json()["id"]
    domain = f"walked-{uuid.uuid4().hex[:10]}.test"  # one organization claims a domain: a fresh one per walk
    made = await client.post(f"{base}/sso/domains", json={"domain": domain}, headers=headers)
    assert made.status_code == 201, made.text
    ids["domain"] = domain
    ids["new_domain"] = f"walked-{uuid.uuid4().hex[:10]}.test"
    made = await client.post(f"{base}/sso/role-mappings", json={"value": "walked", "role": "member"}, headers=headers)
    assert made.status_code == 201, made.text
    ids["mapping_id"] = made.json()["id"]
    made = await client.post(f"{base}/webhooks", json=WEBHOOK, headers=headers)
    assert made.status_code == 201, made.text
    ids["webhook_id"] = made.json()["id"]
    made = await client.post(f"{base}/reminder-rules", json={"kind": "timer_running", "hours": 8}, headers=headers)
    assert made.status_code == 201, made.text
    ids["rule_id"] = made.json()["id"]
    me = await client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200, me.text
    ids["me_id"] = me.json()["id"]
    made = await client.post(
        f"{base}/export-schedules",
        json=fill(BODIES[("POST", "/api/v1/orgs/{org_id}/export-schedules")], ids),
        headers=headers,
    )
    assert made.status_code == 201, made.text
    ids["schedule_id"] = made.json()["id"]
    made = await client.put(f"{base}/me/calendar-feed", json={}, headers=headers)
    assert made.status_code == 200, made.text
    made = await client.post(
        f"{base}/saved-reports", json={"name": "Walk report", "query": {"range": "this_week"}}, headers=headers
    )
    assert made.status_code == 201, made.text
    ids["report_id"] = made.json()["id"]
    made = await client.post(f"{base}/saved-reports/{ids['report_id']}/links", json={}, headers=headers)
    assert made.status_code == 201, made.text
    ids["link_id"] = made.json()["id"]
    # Working time: a holiday calendar with one holiday, the owner's contract and absence.
    made = await client.post(
        f"{base}/worktime/holiday-calendars", json={"name": f"Walk calendar {uuid.uuid4().hex[:6]}"}, headers=headers
    )
    assert made.status_code == 201, made.text
    ids["calendar_id"] = made.json()["id"]
    made = await client.post(
        f"{base}/worktime/holiday-calendars/{ids['calendar_id']}/holidays",
        json={"day": "2025-06-04", "name": "Walk holiday"},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    ids["holiday_id"] = made.json()["id"]
    made = await client.post(
        f"{base}/worktime/contracts",
        json={"user_id": ids["me_id"], "valid_from": "2025-06-02", "weekday_minutes": [480] * 5 + [0, 0]},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    ids["contract_id"] = made.json()["id"]
    made = await client.post(
        f"{base}/worktime/absences",
        json={"kind": "sick", "first_day": "2025-06-03", "last_day": "2025-06-03"},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    ids["absence_id"] = made.json()["id"]
    # No delivery is logged until the worker runs: past the guard, redelivering an unknown one is a 404.
    ids["delivery_id"] = str(uuid.uuid4())
    return ids
