from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet
from icalendar import Calendar

from backend.core import secrets
from backend.integrations import service
from backend.settings import get_settings
from tests.conftest import DEMO_IDS, run_cli
from tests.tracking.conftest import Team


def _path(url: str) -> str:
    return url[url.index("/api/v1/") :]


async def test_calendar_feed_is_valid_ics_and_revocable(team: Team, owner_db: Any) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    start, end = now - timedelta(days=2, hours=3), now - timedelta(days=2, hours=1)
    logged = await team.log("dave", start.isoformat(), end.isoformat(), description="Homepage copy", tags=["dev"])
    assert logged.status_code == 201, logged.text
    await team.log("carol", start.isoformat(), end.isoformat(), description="Someone else's")
    event = await team.call(
        "carol",
        "POST",
        "/events",
        json={
            "title": "Sprint review",
            "starts_at": (now + timedelta(days=3)).isoformat(),
            "ends_at": (now + timedelta(days=3, hours=1)).isoformat(),
            "location": "Room 2",
            "attendee_ids": [str(DEMO_IDS["dave"])],
        },
    )
    assert event.status_code == 201, event.text
    assert (await team.call("dave", "GET", "/me/calendar-feed")).status_code == 404
    made = await team.call("dave", "PUT", "/me/calendar-feed", json={"days_back": 30})
    assert made.status_code == 200, made.text
    url = made.json()["url"]
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert (await team.call("dave", "GET", "/me/calendar-feed")).json()["url"] == url

    got = await team.client.get(_path(url))  # no bearer token: the URL is the credential
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(got.content)
    assert calendar["VERSION"] == "2.0" and calendar["PRODID"]
    items = {str(c["SUMMARY"]): c for c in calendar.walk("VEVENT")}
    assert set(items) == {"Time: Homepage copy", "Sprint review"}  # only dave's own time
    entry = items["Time: Homepage copy"]
    assert entry.decoded("DTSTART") == start and entry.decoded("DTEND") == end
    assert str(entry["UID"]) == f"time-entry-{logged.json()['id']}@worktime"
    assert str(items["Sprint review"]["LOCATION"]) == "Room 2"

    # The token is sealed and only its digest is searchable: the raw columns do not hold it.
    raw = await owner_db.fetchrow(
        "SELECT secrets_sealed, lookup_hash FROM integrations WHERE org_id = $1 AND user_id = $2",
        uuid.UUID(team.org),
        DEMO_IDS["dave"],
    )
    assert token.encode() not in raw["secrets_sealed"] and raw["lookup_hash"] == hashlib.sha256(token.encode()).digest()
    assert token in secrets.open_sealed(raw["secrets_sealed"])
    assert token not in str(
        await owner_db.fetch("SELECT changes FROM audit_events WHERE org_id = $1", uuid.UUID(team.org))
    )

    rotated = (await team.call("dave", "POST", "/me/calendar-feed/rotate")).json()["url"]
    assert rotated != url
    assert (await team.client.get(_path(url))).status_code == 404
    assert (await team.client.get(_path(rotated))).status_code == 200
    assert (await team.call("dave", "DELETE", "/me/calendar-feed")).status_code == 204
    assert (await team.client.get(_path(rotated))).status_code == 404
    assert (await team.client.get("/api/v1/calendar-feeds/wtcal_guess.ics")).status_code == 404
    actions = await owner_db.fetch(
        "SELECT action FROM audit_events WHERE org_id = $1 AND resource_type = 'integration' ORDER BY seq",
        uuid.UUID(team.org),
    )
    assert [a["action"] for a in actions] == [
        "integration.created",
        "integration.secret_rotated",
        "integration.deleted",
    ]


async def test_connectors_are_listed(team: Team) -> None:
    listed = (await team.call("dave", "GET", "/integrations/connectors")).json()
    kinds = {c["kind"]: c for c in listed}
    assert set(kinds) == {"ical", "slack"}
    assert kinds["ical"]["personal"] and "days_back" in kinds["ical"]["config_schema"]["properties"]


async def test_keys_rotate_reencrypts_every_secret(team: Team, owner_db: Any) -> None:
    hook = await team.call(
        "bob", "POST", "/webhooks", json={"url": "https://93.184.216.34/h", "events": ["timer.started"]}
    )
    secret = hook.json()["secret"]
    await team.call("dave", "PUT", "/me/calendar-feed", json={})
    old_keys = get_settings().secret_keys
    new_key = Fernet.generate_key().decode()
    result = run_cli("keys", "rotate", env={"WORKTIME_SECRET_KEYS": ",".join([new_key, *old_keys])})
    assert "re-encrypted" in result.stdout
    sealed = await owner_db.fetchval(
        "SELECT secret_sealed FROM webhook_endpoints WHERE id = $1", uuid.UUID(hook.json()["id"])
    )
    feed = await owner_db.fetchval(
        "SELECT secrets_sealed FROM integrations WHERE org_id = $1 AND user_id = $2",
        uuid.UUID(team.org),
        DEMO_IDS["dave"],
    )
    assert secrets.open_sealed(sealed, [new_key]) == secret  # the new key alone opens them now
    assert service.FEED_PREFIX in secrets.open_sealed(feed, [new_key])
    try:
        secrets.open_sealed(sealed, old_keys)
    except secrets.SecretUnreadable:
        pass
    else:
        raise AssertionError("the old key still opens a re-encrypted secret")
    # Put them back under the test key so the API running in this process can read them.
    run_cli("keys", "rotate", env={"WORKTIME_SECRET_KEYS": ",".join([*old_keys, new_key])})


def test_feed_tokens_are_redacted_from_access_logs() -> None:
    from backend.core.logging import redact_path

    assert redact_path("/api/v1/calendar-feeds/wtcal_s3cr3t.ics") == "/api/v1/calendar-feeds/wtcal_…"
    assert redact_path("/api/v1/orgs/x/webhooks") == "/api/v1/orgs/x/webhooks"
