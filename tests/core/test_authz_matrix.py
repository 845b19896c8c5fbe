"""The authorization matrix, driven through the HTTP API with real tokens for every role.

The expectations are written out here by hand (not derived from the policy), so a policy change that
widens or narrows a role shows up as a failing cell.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import DEMO_IDS, Keycloak, Tokens, add_member, create_org

SUBJECTS = ["owner", "admin", "manager", "member", "auditor", "lead", "contributor", "viewer"]
Y, N = True, False

# permission: allowed for (owner, admin, manager, member, auditor, lead, contributor, viewer).
# "lead", "contributor" and "viewer" are plain organization members holding that role in the project.
EXPECTED: dict[str, tuple[bool, ...]] = {
    "organization:read":     (Y, Y, Y, Y, Y, Y, Y, Y),
    "organization:update":   (Y, Y, N, N, N, N, N, N),
    "organization:configure_mfa": (Y, N, N, N, N, N, N, N),
    "member:list":           (Y, Y, Y, Y, Y, Y, Y, Y),
    "member:invite":         (Y, Y, Y, N, N, N, N, N),
    "member:update":         (Y, Y, N, N, N, N, N, N),
    "member:remove":         (Y, Y, N, N, N, N, N, N),
    "invitation:list":       (Y, Y, Y, N, N, N, N, N),
    "invitation:resend":     (Y, Y, Y, N, N, N, N, N),
    "invitation:revoke":     (Y, Y, N, N, N, N, N, N),
    "audit:read":            (Y, Y, N, N, Y, N, N, N),
    "diagnostics:run":       (Y, Y, N, N, N, N, N, N),
    "diagnostics:read":      (Y, Y, Y, Y, N, Y, Y, Y),
    "project:create":        (Y, Y, Y, N, N, N, N, N),
    "project:list":          (Y, Y, Y, Y, Y, Y, Y, Y),
    "project:read":          (Y, Y, N, N, Y, Y, Y, Y),
    "project:update":        (Y, Y, N, N, N, Y, N, N),
    "project_member:list":   (Y, Y, N, N, Y, Y, Y, Y),
    "project_member:manage": (Y, Y, N, N, N, Y, N, N),
    "project:archive":       (Y, Y, N, N, N, Y, N, N),
    "personal_token:create": (Y, Y, Y, Y, Y, Y, Y, Y),
    "personal_token:list":   (Y, Y, Y, Y, Y, Y, Y, Y),
    "personal_token:revoke": (Y, Y, Y, Y, Y, Y, Y, Y),
    "personal_token:read":   (Y, Y, N, N, N, N, N, N),
    "personal_token:revoke_any": (Y, Y, N, N, N, N, N, N),
    "client:list":           (Y, Y, Y, Y, Y, Y, Y, Y),
    "client:read":           (Y, Y, Y, Y, Y, Y, Y, Y),
    "client:create":         (Y, Y, Y, N, N, N, N, N),
    "client:update":         (Y, Y, Y, N, N, N, N, N),
    "client:delete":         (Y, Y, N, N, N, N, N, N),
    "my_task:list":          (Y, Y, Y, Y, Y, Y, Y, Y),
    "task:list":             (Y, Y, N, N, Y, Y, Y, Y),
    "task:read":             (Y, Y, N, N, Y, Y, Y, Y),
    "task:create":           (Y, Y, N, N, N, Y, Y, N),
    "task:update":           (Y, Y, N, N, N, Y, Y, N),
    "task:manage":           (Y, Y, N, N, N, Y, N, N),
    "task:delete":           (Y, Y, N, N, N, Y, N, N),
    "comment:list":          (Y, Y, N, N, Y, Y, Y, Y),
    "comment:create":        (Y, Y, N, N, N, Y, Y, N),
    "comment:update":        (Y, Y, N, N, N, Y, Y, N),
    "comment:delete":        (Y, Y, N, N, N, Y, Y, N),
    "comment:moderate":      (Y, Y, N, N, N, Y, N, N),
    "attachment:list":       (Y, Y, N, N, Y, Y, Y, Y),
    "attachment:read":       (Y, Y, N, N, Y, Y, Y, Y),
    "attachment:create":     (Y, Y, N, N, N, Y, Y, N),
    "attachment:delete":     (Y, Y, N, N, N, Y, Y, N),
    "note:list":             (Y, Y, Y, Y, Y, Y, Y, Y),
    "note:read":             (Y, Y, Y, Y, Y, Y, Y, Y),
    "note:create":           (Y, Y, Y, Y, N, Y, Y, Y),
    "note:update":           (Y, Y, Y, Y, N, Y, Y, Y),
    "note:delete":           (Y, Y, Y, Y, N, Y, Y, Y),
    "note:share":            (Y, Y, Y, Y, N, Y, Y, Y),
    "event:list":            (Y, Y, Y, Y, Y, Y, Y, Y),
    "event:read":            (Y, Y, Y, Y, Y, Y, Y, Y),
    "event:create":          (Y, Y, Y, Y, N, Y, Y, Y),
    "event:update":          (Y, Y, Y, Y, N, Y, Y, Y),
    "event:delete":          (Y, Y, Y, Y, N, Y, Y, Y),
    "event:rsvp":            (Y, Y, Y, Y, N, Y, Y, Y),
    "event:manage":          (Y, Y, N, N, N, N, N, N),
    "decision:list":         (Y, Y, Y, Y, Y, Y, Y, Y),
    "decision:read":         (Y, Y, N, N, Y, Y, Y, Y),
    "decision:create":       (Y, Y, N, N, N, Y, Y, Y),
    "decision:update":       (Y, Y, Y, Y, N, Y, Y, Y),
    "decision:decide":       (Y, Y, N, N, N, Y, N, N),
    # Outgoing webhooks and single sign-on are the admins' (the auditor reads their configuration)
    "webhook:read":          (Y, Y, N, N, Y, N, N, N),
    "webhook:manage":        (Y, Y, N, N, N, N, N, N),
    "reminder_rule:read":    (Y, Y, N, N, Y, N, N, N),
    "reminder_rule:manage":  (Y, Y, N, N, N, N, N, N),
    # Scheduled exports: auditors schedule them too (an export changes none of the organization's data)
    "export_schedule:list":   (Y, Y, N, N, Y, N, N, N),
    "export_schedule:manage": (Y, Y, N, N, Y, N, N, N),
    "sso:read":              (Y, Y, N, N, Y, N, N, N),
    "sso:manage":            (Y, Y, N, N, N, N, N, N),
    "sso_role_mapping:read": (Y, Y, N, N, Y, N, N, N),
    "sso_role_mapping:manage": (Y, Y, N, N, N, N, N, N),
    "sso_settings:read":     (Y, Y, N, N, Y, N, N, N),
    "sso_settings:update":   (Y, Y, N, N, N, N, N, N),
    "reminder_mute:read":    (Y, Y, Y, Y, Y, Y, Y, Y),
    "reminder_mute:update":  (Y, Y, Y, Y, Y, Y, Y, Y),
    "scim_token:read":       (Y, Y, N, N, N, N, N, N),
    "scim_token:manage":     (Y, Y, N, N, N, N, N, N),
    # Everyone's own calendar feed
    "calendar_feed:read":    (Y, Y, Y, Y, Y, Y, Y, Y),
    "calendar_feed:manage":  (Y, Y, Y, Y, Y, Y, Y, Y),
    # Saved reports: everyone lists and runs theirs and the shared ones; members save their own; public
    # share links take managers up; admins change anyone's (before
    # the archive: a member's 403 on someone else's report is the service's owner rule, past the guard)
    "saved_report:list":      (Y, Y, Y, Y, Y, Y, Y, Y),
    "saved_report:create":    (Y, Y, Y, Y, N, Y, Y, Y),
    "saved_report:share":     (Y, Y, Y, N, N, N, N, N),
    "saved_report:manage":    (Y, Y, N, N, N, N, N, N),
    # Archiving the organization makes every later write a 409: these go last.
    "organization:archive":  (Y, N, N, N, N, N, N, N),
    # Offboarding: the owner alone; the export (a read) and the deletion's schedule work when archived.
    "tenant_data:read":      (Y, N, N, N, N, N, N, N),
    "offboarding:read":      (Y, N, N, N, N, N, N, N),
    "offboarding:schedule":  (Y, N, N, N, N, N, N, N),
    "offboarding:cancel":    (Y, N, N, N, N, N, N, N),
    "member:leave":          (Y, Y, Y, Y, Y, Y, Y, Y),
    "invitation:accept":     (Y, Y, Y, Y, Y, Y, Y, Y),
    "invitation:decline":    (Y, Y, Y, Y, Y, Y, Y, Y),
    # Time tracking: own time on projects you contribute to; others' as their lead or an admin
    "time_entry:list":        (Y, Y, Y, Y, Y, Y, Y, Y),
    "time_entry:read":        (Y, Y, Y, Y, Y, Y, Y, Y),
    "time_entry:create":      (Y, Y, N, N, N, Y, Y, N),
    "time_entry:update":      (Y, Y, N, N, N, Y, Y, N),
    "time_entry:delete":      (Y, Y, N, N, N, Y, Y, N),
    "team_time:read":         (Y, Y, N, N, Y, Y, N, N),
    "team_time:update":       (Y, Y, N, N, N, Y, N, N),
    "time_correction:create": (Y, Y, N, N, N, Y, N, N),
    "time_profile:update":    (Y, Y, Y, Y, N, Y, Y, Y),
    "time_tag:list":          (Y, Y, Y, Y, Y, Y, Y, Y),
    "timesheet:read":         (Y, Y, Y, Y, Y, Y, Y, Y),
    "timesheet:submit":       (Y, Y, Y, Y, N, Y, Y, Y),
    "timesheet:approve":      (Y, Y, N, N, N, Y, N, N),
    "time_settings:read":     (Y, Y, Y, Y, Y, Y, Y, Y),
    "time_settings:update":   (Y, Y, N, N, N, N, N, N),
    "time_lock:read":         (Y, Y, Y, Y, Y, Y, Y, Y),
    "time_lock:update":       (Y, Y, N, N, N, N, N, N),
    "time_lock:rewind":       (Y, N, N, N, N, N, N, N),
    "rate:list":              (Y, Y, N, N, Y, N, N, N),
    "rate:manage":            (Y, Y, N, N, N, N, N, N),
    "time_import:create":     (Y, Y, Y, Y, N, Y, Y, Y),
    "time_import:read":       (Y, Y, Y, Y, Y, Y, Y, Y),
    # Reports: everyone reads them (whose time they hold is the service's scope); the organization's
    # figures need team_report:read (managers up, auditors)
    "report:read":            (Y, Y, Y, Y, Y, Y, Y, Y),
    "dashboard:read":         (Y, Y, Y, Y, Y, Y, Y, Y),
    "team_report:read":       (Y, Y, Y, N, Y, N, N, N),
    "capacity:manage":        (Y, Y, N, N, N, N, N, N),
    # Exports: anyone may export what their reports show them (the auditor's main tool)
    "export:create":          (Y, Y, Y, Y, Y, Y, Y, Y),
    "export:list":            (Y, Y, Y, Y, Y, Y, Y, Y),
    "export:read":            (Y, Y, Y, Y, Y, Y, Y, Y),
    "export_settings:read":   (Y, Y, Y, Y, Y, Y, Y, Y),
    "export_settings:update": (Y, Y, N, N, N, N, N, N),
    # Working time: everyone reads their own balance and records their own absences (the auditor only
    # reads); others' as a lead of their project, an admin or (reading only) the auditor
    "worktime:read":            (Y, Y, Y, Y, Y, Y, Y, Y),
    "team_worktime:read":       (Y, Y, N, N, Y, Y, N, N),
    "absence:create":           (Y, Y, Y, Y, N, Y, Y, Y),
    "absence:manage":           (Y, Y, N, N, N, Y, N, N),
    "contract:manage":          (Y, Y, N, N, N, N, N, N),
    "holiday_calendar:manage":  (Y, Y, N, N, N, N, N, N),
}  # fmt: skip


@pytest.fixture(scope="module")
async def world(client: httpx.AsyncClient, tokens: Tokens, keycloak: Keycloak, migrated: Any) -> dict[str, Any]:
    import asyncpg

    from tests.conftest import plain_dsn

    owner_db = await asyncpg.connect(plain_dsn(migrated["WORKTIME_DATABASE_OWNER_URL"]))
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, "Matrix")
    people = {"owner": "alice", "admin": "bob", "manager": "carol", "member": "dave", "auditor": "erin"}
    for subject, name in list(people.items())[1:]:
        await add_member(owner_db, org["id"], DEMO_IDS[name], subject)
    project = (await client.post(f"/api/v1/orgs/{org['id']}/projects", json={"name": "P"}, headers=alice)).json()
    doomed = (await client.post(f"/api/v1/orgs/{org['id']}/projects", json={"name": "Q"}, headers=alice)).json()
    ids = {}
    for role in ("lead", "contributor", "viewer"):
        username = f"{role}-{uuid.uuid4().hex[:6]}"
        tokens.passwords[username] = "Pa55-word-for-tests"
        ids[role] = await keycloak.create_user(username, tokens.passwords[username])
        await add_member(owner_db, org["id"], ids[role], "member")
        people[role] = username
        for target in (project, doomed):
            assigned = await client.put(
                f"/api/v1/orgs/{org['id']}/projects/{target['id']}/members/{ids[role]}",
                json={"role": role},
                headers=alice,
            )
            assert assigned.status_code == 200, assigned.text
    user_ids = {subject: DEMO_IDS[name] for subject, name in list(people.items())[:5]} | ids
    tracking = await _tracking_world(owner_db, org["id"], project["id"], user_ids)
    await owner_db.close()
    ping = (await client.post(f"/api/v1/orgs/{org['id']}/diagnostics/pings", headers=alice)).json()
    customer = (await client.post(f"/api/v1/orgs/{org['id']}/clients", json={"name": "C"}, headers=alice)).json()
    gone = (await client.post(f"/api/v1/orgs/{org['id']}/clients", json={"name": "D"}, headers=alice)).json()
    tasks = f"/api/v1/orgs/{org['id']}/projects/{project['id']}/tasks"
    task = (await client.post(tasks, json={"title": "T"}, headers=alice)).json()
    doomed_task = (await client.post(tasks, json={"title": "U"}, headers=alice)).json()
    comment = (await client.post(f"{tasks}/{task['id']}/comments", json={"body": "c"}, headers=alice)).json()
    attachment = (
        await client.post(
            f"{tasks}/{task['id']}/attachments", files={"file": ("m.txt", b"matrix", "text/plain")}, headers=alice
        )
    ).json()
    event = (
        await client.post(
            f"/api/v1/orgs/{org['id']}/events",
            json={"title": "E", "starts_at": "2026-12-01T09:00:00Z", "ends_at": "2026-12-01T10:00:00Z"},
            headers=alice,
        )
    ).json()
    decision = (
        await client.post(
            f"/api/v1/orgs/{org['id']}/decisions", json={"title": "D", "project_id": project["id"]}, headers=alice
        )
    ).json()
    alices_token = (
        await client.post(
            f"/api/v1/orgs/{org['id']}/personal-tokens",
            json={"name": "matrix", "expires_at": (datetime.now(UTC) + timedelta(days=7)).isoformat()},
            headers=alice,
        )
    ).json()
    alices_report = (
        await client.post(
            f"/api/v1/orgs/{org['id']}/saved-reports",
            json={"name": "matrix", "query": {"range": "last_month"}, "shared": True},
            headers=alice,
        )
    ).json()
    return {
        "saved_report": alices_report["id"],
        "alices_token": alices_token["id"],
        **tracking,
        "decision": decision["id"],
        "event": event["id"],
        "attachment": attachment["id"],
        "task": task["id"],
        "doomed_task": doomed_task["id"],
        "comment": comment["id"],
        "client": customer["id"],
        "gone_client": gone["id"],
        "org": org["id"],
        "org_name": org["name"],
        "project": project["id"],
        "doomed": doomed["id"],
        "ping": ping["id"],
        "people": people,
        "viewer_id": str(ids["viewer"]),
    }


async def _tracking_world(
    owner_db: Any, org_id: str, project_id: str, user_ids: dict[str, uuid.UUID]
) -> dict[str, Any]:
    """Rows written straight into the tenant: two entries of everyone's own on P, a colleague's ("ghost")
    entries and submitted week, and a period lock to move."""
    await owner_db.execute("SELECT set_config('app.org_id', $1, false)", str(org_id))
    ghost = uuid.uuid4()
    await add_member(owner_db, org_id, ghost, "member")
    await owner_db.execute(
        "INSERT INTO project_memberships (org_id, project_id, user_id, role) VALUES ($1, $2, $3, 'contributor')",
        uuid.UUID(org_id),
        uuid.UUID(project_id),
        ghost,
    )

    async def entry(user_id: uuid.UUID, start: str) -> str:
        entry_id = uuid.uuid4()
        await owner_db.execute(
            "INSERT INTO time_entries (org_id, id, user_id, project_id, start_at, end_at, duration_seconds, billable,"
            " tags, no_overlap, source, created_by) VALUES ($1, $2, $3, $4, $5::timestamptz,"
            " $5::timestamptz + interval '1 hour', 3600, true, '{}', true, 'manual', $3)",
            uuid.UUID(org_id),
            entry_id,
            user_id,
            uuid.UUID(project_id),
            datetime.fromisoformat(start),
        )
        return str(entry_id)

    own = {subject: await entry(user_id, "2026-01-05T09:00:00+00:00") for subject, user_id in user_ids.items()}
    own_2 = {subject: await entry(user_id, "2026-01-05T11:00:00+00:00") for subject, user_id in user_ids.items()}
    await entry(ghost, "2026-01-12T09:00:00+00:00")
    sheet = uuid.uuid4()
    await owner_db.execute(
        "INSERT INTO timesheets (org_id, id, user_id, week_start, time_zone, status, submitted_at)"
        " VALUES ($1, $2, $3, '2026-01-12', 'UTC', 'submitted', now())",
        uuid.UUID(org_id),
        sheet,
        ghost,
    )
    await owner_db.execute(
        "INSERT INTO time_settings (org_id, currency, max_duration_minutes, max_future_minutes, prevent_overlaps,"
        " locked_until) VALUES ($1, 'EUR', 1440, 1440, true, '2000-01-15T00:00:00Z')",
        uuid.UUID(org_id),
    )
    return {
        "own_entry": own,
        "own_entry_2": own_2,
        "ghost": str(ghost),
        "ghost_entry": await entry(ghost, "2026-01-19T09:00:00+00:00"),
        "ghost_sheet": str(sheet),
    }


def _request(permission: str, w: dict[str, Any]) -> tuple[str, str, dict[str, Any] | None]:
    o, p = f"/api/v1/orgs/{w['org']}", f"/api/v1/orgs/{w['org']}/projects/{w['project']}"
    return {
        "organization:read": ("GET", o, None),
        "organization:update": ("PATCH", o, {"name": w["org_name"]}),
        "organization:configure_mfa": ("PUT", f"{o}/security", {"require_mfa_for_admins": False}),
        "organization:archive": ("POST", f"{o}/archive", None),
        "tenant_data:read": ("POST", f"{o}/offboarding/export", None),
        "offboarding:read": ("GET", f"{o}/offboarding", None),
        "offboarding:schedule": ("POST", f"{o}/offboarding", None),
        "offboarding:cancel": ("DELETE", f"{o}/offboarding", None),
        "member:list": ("GET", f"{o}/members", None),
        # An existing member's address: past authorization the answer is a 409, never an email.
        "member:invite": ("POST", f"{o}/members/invitations", {"email": "dave@acme.test", "role": "member"}),
        "member:update": ("PATCH", f"{o}/members/{DEMO_IDS['dave']}", {"role": "member"}),
        "member:remove": ("DELETE", f"{o}/members/{uuid.uuid4()}", None),
        "invitation:list": ("GET", f"{o}/invitations", None),
        # Nobody invited: past authorization, a 404.
        "invitation:resend": ("POST", f"{o}/invitations/{uuid.uuid4()}/resend", None),
        "invitation:revoke": ("DELETE", f"{o}/invitations/{uuid.uuid4()}", None),
        "member:leave": ("DELETE", f"{o}/members/{{self}}", None),
        "audit:read": ("GET", f"{o}/audit-events", None),
        "diagnostics:run": ("POST", f"{o}/diagnostics/pings", None),
        "diagnostics:read": ("GET", f"{o}/diagnostics/pings/{w['ping']}", None),
        "project:create": ("POST", f"{o}/projects", {"name": f"New {uuid.uuid4().hex[:8]}"}),
        "project:list": ("GET", f"{o}/projects", None),
        "project:read": ("GET", p, None),
        "project:update": ("PATCH", p, {"description": "walked"}),
        "project:archive": ("POST", f"{o}/projects/{w['doomed']}/archive", None),
        "personal_token:create": ("POST", f"{o}/personal-tokens", {"name": "m", "expires_at": _NEXT_WEEK}),
        "personal_token:list": ("GET", f"{o}/personal-tokens", None),
        # An unknown token: past authorization, a 404.
        "personal_token:revoke": ("DELETE", f"{o}/personal-tokens/{uuid.uuid4()}", None),
        "personal_token:read": ("GET", f"{o}/personal-tokens?all=true", None),
        # The owner's (alice's) token: someone else's for everyone but the owner, who revokes her own.
        "personal_token:revoke_any": ("DELETE", f"{o}/personal-tokens/{w['alices_token']}", None),
        "project_member:list": ("GET", f"{p}/members", None),
        "project_member:manage": ("PUT", f"{p}/members/{w['viewer_id']}", {"role": "viewer"}),
        # Active members have no invitation left to answer: past authorization, a 404.
        "invitation:accept": ("POST", f"{o}/invitations/accept", None),
        "invitation:decline": ("POST", f"{o}/invitations/decline", None),
        "time_entry:list": ("GET", f"{o}/time-entries", None),
        "time_entry:read": ("GET", f"{o}/timer", None),
        "time_entry:create": ("POST", f"{o}/time-entries", {"project_id": w["project"], **_HOUR}),
        "time_entry:update": ("PATCH", f"{o}/time-entries/{{own_entry}}", {"description": "walked"}),
        "time_entry:delete": ("DELETE", f"{o}/time-entries/{{own_entry_2}}", None),
        "team_time:read": ("GET", f"{o}/time-entries/{w['ghost_entry']}", None),
        "team_time:update": ("PATCH", f"{o}/time-entries/{w['ghost_entry']}", {"description": "walked"}),
        "time_correction:create": (
            "POST",
            f"{o}/time-entries/{w['ghost_entry']}/corrections",
            {"duration_delta_seconds": 60, "reason": "walked"},
        ),
        "time_profile:update": ("PUT", f"{o}/time-zone", {"time_zone": "Europe/Berlin"}),
        "time_tag:list": ("GET", f"{o}/time-tags", None),
        "timesheet:read": ("GET", f"{o}/timesheets?week=2026-W02", None),
        "timesheet:submit": ("POST", f"{o}/timesheets/submit", {"week": "2026-W10"}),
        "timesheet:approve": ("POST", f"{o}/timesheets/{w['ghost_sheet']}/approve", None),
        "time_settings:read": ("GET", f"{o}/time-settings", None),
        "time_settings:update": ("PATCH", f"{o}/time-settings", {"max_future_minutes": 1440}),
        "time_lock:read": ("GET", f"{o}/time-lock", None),
        "time_lock:update": ("PUT", f"{o}/time-lock", {"locked_until": "2000-02-01T00:00:00Z"}),
        "time_lock:rewind": ("PUT", f"{o}/time-lock", {"locked_until": "2000-01-01T00:00:00Z"}),
        "rate:list": ("GET", f"{o}/rates", None),
        "rate:manage": ("PUT", f"{o}/rates", {"user_id": w["ghost"], "amount": "10"}),
        "time_import:create": ("POST", f"{o}/time-imports", {"source": "toggl", "csv": "User\n", "dry_run": True}),
        "time_import:read": ("GET", f"{o}/time-imports", None),
        "report:read": ("GET", f"{o}/reports/projects", None),
        "dashboard:read": ("GET", f"{o}/dashboard", None),
        "team_report:read": ("GET", f"{o}/reports/time?from=2026-01-01&to=2026-01-31&scope=organization", None),
        "capacity:manage": ("PUT", f"{o}/reports/capacities/{w['ghost']}", {"weekly_hours": 30}),
        "saved_report:list": ("GET", f"{o}/saved-reports", None),
        "saved_report:create": ("POST", f"{o}/saved-reports", {"name": "m", "query": {"range": "last_month"}}),
        # An unknown report: past authorization, a 404.
        "saved_report:share": ("POST", f"{o}/saved-reports/{uuid.uuid4()}/links", {}),
        # The owner's (alice's) shared report: readable by all, changed only by her and admins.
        "saved_report:manage": ("PATCH", f"{o}/saved-reports/{w['saved_report']}", {"name": "matrix"}),
        "export:create": (
            "POST",
            f"{o}/exports",
            {"kind": "summary", "format": "csv", "from": "2026-01-01", "to": "2026-01-31"},
        ),
        "export:list": ("GET", f"{o}/exports", None),
        "export:read": ("GET", f"{o}/exports/signing-key", None),
        "export_settings:read": ("GET", f"{o}/exports/settings", None),
        "export_settings:update": ("PUT", f"{o}/exports/settings", {"retention_hours": 720}),
        "client:list": ("GET", f"{o}/clients", None),
        "client:read": ("GET", f"{o}/clients/{w['client']}", None),
        "client:create": ("POST", f"{o}/clients", {"name": f"New {uuid.uuid4().hex[:8]}"}),
        "client:update": ("PATCH", f"{o}/clients/{w['client']}", {"notes": "matrix"}),
        "client:delete": ("DELETE", f"{o}/clients/{w['gone_client']}", None),
        "my_task:list": ("GET", f"{o}/tasks", None),
        "task:list": ("GET", f"{p}/tasks", None),
        "task:read": ("GET", f"{p}/tasks/{w['task']}", None),
        "task:create": ("POST", f"{p}/tasks", {"title": "matrix"}),
        # Past the permission, who may change which task is the service's rule: an unknown task is a 404.
        "task:update": ("PATCH", f"{p}/tasks/{uuid.uuid4()}", {"description": "matrix"}),
        # Changing a task nobody assigned to you needs task:manage.
        "task:manage": ("PATCH", f"{p}/tasks/{w['task']}", {"description": "matrix"}),
        "task:delete": ("DELETE", f"{p}/tasks/{w['doomed_task']}", None),
        "comment:list": ("GET", f"{p}/tasks/{w['task']}/comments", None),
        "comment:create": ("POST", f"{p}/tasks/{w['task']}/comments", {"body": "matrix"}),
        "comment:update": ("PATCH", f"{p}/tasks/{w['task']}/comments/{uuid.uuid4()}", {"body": "matrix"}),
        "comment:delete": ("DELETE", f"{p}/tasks/{w['task']}/comments/{uuid.uuid4()}", None),
        # Deleting someone else's comment needs comment:moderate.
        "comment:moderate": ("DELETE", f"{p}/tasks/{w['task']}/comments/{w['comment']}", None),
        "attachment:list": ("GET", f"{p}/tasks/{w['task']}/attachments", None),
        "attachment:read": ("GET", f"{p}/tasks/{w['task']}/attachments/{w['attachment']}/content", None),
        # Past the guard an unknown task is a 404, before any upload is read.
        "attachment:create": ("POST", f"{p}/tasks/{uuid.uuid4()}/attachments", None),
        "attachment:delete": ("DELETE", f"{p}/tasks/{w['task']}/attachments/{uuid.uuid4()}", None),
        # Which note exists for whom is row-level security's answer: past the guard, an unseen note is a 404.
        "note:list": ("GET", f"{o}/notes", None),
        "note:read": ("GET", f"{o}/notes/{uuid.uuid4()}", None),
        "note:create": ("POST", f"{o}/notes", {"title": "matrix"}),
        "note:update": ("PATCH", f"{o}/notes/{uuid.uuid4()}", {"body": "matrix"}),
        "note:delete": ("DELETE", f"{o}/notes/{uuid.uuid4()}", None),
        "event:list": ("GET", f"{o}/events?from=2026-11-01T00:00:00Z&to=2027-01-01T00:00:00Z", None),
        "event:read": ("GET", f"{o}/events/{w['event']}", None),
        "event:create": (
            "POST",
            f"{o}/events",
            {"title": "m", "starts_at": "2026-12-02T09:00:00Z", "ends_at": "2026-12-02T10:00:00Z"},
        ),
        # Past the permission, only the creator (or event:manage) changes an event: unknown ones are 404s.
        "event:update": ("PATCH", f"{o}/events/{uuid.uuid4()}", {"location": "matrix"}),
        "event:delete": ("DELETE", f"{o}/events/{uuid.uuid4()}", None),
        "event:rsvp": ("PUT", f"{o}/events/{uuid.uuid4()}/rsvp", {"response": "accepted"}),
        # Changing someone else's event needs event:manage.
        "event:manage": ("PATCH", f"{o}/events/{w['event']}", {"location": "matrix"}),
        # Project decisions are read and proposed by whoever may read the project.
        "decision:list": ("GET", f"{o}/decisions", None),
        "decision:read": ("GET", f"{o}/decisions/{w['decision']}", None),
        "decision:create": ("POST", f"{o}/decisions", {"title": "m", "project_id": w["project"]}),
        "decision:update": ("PATCH", f"{o}/decisions/{uuid.uuid4()}", {"context": "matrix"}),
        # Leads decide for their project; once accepted, a second decider gets a 409.
        "decision:decide": ("POST", f"{o}/decisions/{w['decision']}/accept", None),
        "webhook:read": ("GET", f"{o}/webhooks", None),
        # An unknown endpoint: past authorization, a 404.
        "webhook:manage": ("POST", f"{o}/webhooks/{uuid.uuid4()}/ping", None),
        "reminder_rule:read": ("GET", f"{o}/reminder-rules", None),
        # An unknown rule: past authorization, a 404.
        "reminder_rule:manage": ("DELETE", f"{o}/reminder-rules/{uuid.uuid4()}", None),
        "export_schedule:list": ("GET", f"{o}/export-schedules", None),
        # An unknown schedule: past authorization, a 404.
        "export_schedule:manage": ("DELETE", f"{o}/export-schedules/{uuid.uuid4()}", None),
        "sso:read": ("GET", f"{o}/sso/providers", None),
        "sso:manage": ("DELETE", f"{o}/sso/providers/{uuid.uuid4()}", None),
        "sso_role_mapping:read": ("GET", f"{o}/sso/role-mappings", None),
        "sso_role_mapping:manage": ("DELETE", f"{o}/sso/role-mappings/{uuid.uuid4()}", None),
        "sso_settings:read": ("GET", f"{o}/sso/settings", None),
        "sso_settings:update": ("PATCH", f"{o}/sso/settings", {"default_role": "member"}),
        "reminder_mute:read": ("GET", f"{o}/me/reminder-mutes", None),
        "reminder_mute:update": ("PUT", f"{o}/me/reminder-mutes", {"muted": []}),
        "scim_token:read": ("GET", f"{o}/sso/scim-token", None),
        "scim_token:manage": ("DELETE", f"{o}/sso/scim-token", None),
        # Nobody has a feed yet: past authorization, a 404.
        "calendar_feed:read": ("GET", f"{o}/me/calendar-feed", None),
        "calendar_feed:manage": ("PUT", f"{o}/me/calendar-feed", {"days_back": 30}),
        "note:share": ("POST", f"{o}/notes/{uuid.uuid4()}/shares", {"project_id": w["project"], "permission": "view"}),
        "worktime:read": ("GET", f"{o}/worktime/balance?from=2026-01-05&to=2026-01-11", None),
        # The colleague on P: the lead's team, everyone's for admins and the auditor.
        "team_worktime:read": ("GET", f"{o}/worktime/balance?from=2026-01-05&to=2026-01-11&user_id={w['ghost']}", None),
        "absence:create": ("POST", f"{o}/worktime/absences", {**_ABSENCE}),
        # The colleague's absence: the first allowed records it, the rest overlap it (409).
        "absence:manage": ("POST", f"{o}/worktime/absences", {**_ABSENCE, "user_id": w["ghost"]}),
        # An unknown contract or calendar: past authorization, a 404.
        "contract:manage": ("PATCH", f"{o}/worktime/contracts/{uuid.uuid4()}", {"weekday_minutes": [0] * 7}),
        "holiday_calendar:manage": ("DELETE", f"{o}/worktime/holiday-calendars/{uuid.uuid4()}", None),
    }[permission]


_NEXT_WEEK = (datetime.now(UTC) + timedelta(days=7)).isoformat()
_ABSENCE = {"kind": "vacation", "first_day": "2026-03-02", "last_day": "2026-03-03"}
_HOUR = {"start_at": "2026-01-06T09:00:00Z", "end_at": "2026-01-06T10:00:00Z"}


async def test_matrix_covers_every_permission_in_the_policy() -> None:
    from backend.tenancy import guard

    assert sorted(EXPECTED) == guard.policy.permissions()


@pytest.mark.parametrize("permission", list(EXPECTED))
async def test_authorization_matrix(
    client: httpx.AsyncClient, tokens: Tokens, world: dict[str, Any], permission: str
) -> None:
    method, url, body = _request(permission, world)
    # Whoever is allowed goes last, so a state change (archive) cannot hide a later denial.
    ordered = sorted(zip(SUBJECTS, EXPECTED[permission], strict=True), key=lambda pair: pair[1])
    wrong = []
    for subject, allowed in ordered:
        headers = await tokens.headers(world["people"][subject])
        target = url
        if "{self}" in url:
            target = url.replace("{self}", (await client.get("/api/v1/me", headers=headers)).json()["id"])
        for own in ("own_entry_2", "own_entry"):  # the caller's own row, for permissions on your own time
            target = target.replace(f"{{{own}}}", world.get(own, {}).get(subject, ""))
        response = await client.request(method, target, headers=headers, json=body)
        assert response.status_code < 500, f"{subject} {permission}: {response.text}"
        if allowed != (response.status_code != 403):
            wrong.append(f"{subject}: {'expected allow' if allowed else 'expected deny'}, got {response.status_code}")
        # Past authorization, only the archive-twice and invite-existing answers are non-2xx.
        if allowed:
            assert response.status_code in {200, 201, 202, 204, 404, 409}, (subject, response.text)
    assert wrong == [], f"{permission}: {wrong}"
