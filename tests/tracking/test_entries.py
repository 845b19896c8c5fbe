"""Time entries through HTTP: validation naming the field, rates snapshotted, bulk all-or-nothing."""

from __future__ import annotations

import asyncio
import uuid

from tests.conftest import DEMO_IDS
from tests.tracking.conftest import Team


async def test_log_read_and_list_with_time_zone(team: Team) -> None:
    assert (await team.call("dave", "PUT", "/time-zone", json={"time_zone": "Europe/Berlin"})).status_code == 200
    made = await team.log("dave", "2026-11-23T09:00:00+01:00", "2026-11-23T10:30:00+01:00", tags=["dev", "web"])
    assert made.status_code == 201, made.text
    entry = made.json()
    assert entry["start_at"] == "2026-11-23T08:00:00Z"
    assert entry["start_local"] == "2026-11-23T09:00:00+01:00"
    assert entry["time_zone"] == "Europe/Berlin"
    assert entry["duration_seconds"] == 5400
    assert entry["billable"] is True  # projects have no billable flag yet: default true
    assert entry["user_id"] == str(DEMO_IDS["dave"])
    listed = await team.call("dave", "GET", "/time-entries", params={"tag": "dev", "from": "2026-11-23T00:00:00Z"})
    assert [e["id"] for e in listed.json()["items"]] == [entry["id"]]
    # Carol leads the project and sees it; a plain member of another project would not.
    assert (await team.call("carol", "GET", f"/time-entries/{entry['id']}")).status_code == 200
    assert (await team.call("erin", "GET", f"/time-entries/{entry['id']}")).status_code == 200
    tags = await team.call("dave", "GET", "/time-tags")
    assert {t["name"] for t in tags.json()} >= {"dev", "web"}


async def test_validation_names_the_field(team: Team) -> None:
    cases = [
        (("2026-11-23T10:00:00Z", "2026-11-23T09:00:00Z"), {}, "end_at", 422),
        (("2026-11-23T00:00:00Z", "2026-11-24T00:00:01Z"), {}, "end_at", 422),
        (("2099-01-01T00:00:00Z", "2099-01-01T01:00:00Z"), {}, "start_at", 422),
        (("2026-11-23T09:00:00Z", "2026-11-23T10:00:00Z"), {"project_id": str(uuid.uuid4())}, "project_id", 422),
    ]
    for (start, end), extra, field, status in cases:
        response = await team.log("dave", start, end, **extra)
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["field"] == field, response.text
    naive = await team.log("dave", "2026-11-23T09:00:00", "2026-11-23T10:00:00Z")
    assert naive.status_code == 422
    # A project where dave holds no role, and an archived one.
    other = await team.new_project("Other")
    refused = await team.log("dave", "2026-11-23T09:00:00Z", "2026-11-23T10:00:00Z", project_id=other)
    assert refused.status_code == 403 and refused.json()["field"] == "project_id"
    assert (await team.call("alice", "POST", f"/projects/{team.project}/archive")).status_code == 200
    archived = await team.log("dave", "2026-11-23T09:00:00Z", "2026-11-23T10:00:00Z")
    assert archived.status_code == 409 and "archived" in archived.json()["detail"]
    assert archived.json()["field"] == "project_id"


async def test_viewers_and_auditors_cannot_log_and_others_need_a_lead(team: Team) -> None:
    viewer_project = await team.new_project("Viewed", {"dave": "viewer"})
    denied = await team.log("dave", "2026-11-23T09:00:00Z", "2026-11-23T10:00:00Z", project_id=viewer_project)
    assert denied.status_code == 403
    assert (await team.log("erin", "2026-11-23T09:00:00Z", "2026-11-23T10:00:00Z")).status_code == 403
    # Carol (lead) logs time for dave on her project; dave cannot log for carol.
    for_dave = await team.log("carol", "2026-11-23T11:00:00Z", "2026-11-23T12:00:00Z", user_id=str(DEMO_IDS["dave"]))
    assert for_dave.status_code == 201 and for_dave.json()["user_id"] == str(DEMO_IDS["dave"])
    assert (
        await team.log("dave", "2026-11-23T11:00:00Z", "2026-11-23T12:00:00Z", user_id=str(DEMO_IDS["carol"]))
    ).status_code == 403
    # Carol corrects dave's entry; dave edits his own; erin (auditor) changes nothing.
    entry = for_dave.json()["id"]
    assert (await team.call("carol", "PATCH", f"/time-entries/{entry}", json={"description": "x"})).status_code == 200
    assert (await team.call("dave", "PATCH", f"/time-entries/{entry}", json={"description": "y"})).status_code == 200
    assert (await team.call("erin", "PATCH", f"/time-entries/{entry}", json={"description": "z"})).status_code == 403
    assert (await team.call("erin", "DELETE", f"/time-entries/{entry}")).status_code == 403


async def test_bulk_is_all_or_nothing_with_errors_per_id(team: Team) -> None:
    ids = []
    for hour in (8, 9, 10):
        made = await team.log("dave", f"2026-11-24T{hour:02d}:00:00Z", f"2026-11-24T{hour:02d}:30:00Z")
        ids.append(made.json()["id"])
    carols = (await team.log("carol", "2026-11-24T08:00:00Z", "2026-11-24T08:30:00Z")).json()["id"]
    missing = str(uuid.uuid4())
    refused = await team.call(
        "dave", "PATCH", "/time-entries", json={"ids": [*ids, carols, missing], "changes": {"billable": False}}
    )
    assert refused.status_code == 409, refused.text
    errors = {e["id"]: e["status"] for e in refused.json()["errors"]}
    assert errors == {carols: 403, missing: 404}
    listed = await team.call("dave", "GET", "/time-entries", params={"billable": "false"})
    assert listed.json()["total"] == 0  # nothing changed
    done = await team.call("dave", "PATCH", "/time-entries", json={"ids": ids, "changes": {"billable": False}})
    assert done.status_code == 200 and done.json()["count"] == 3
    deleted = await team.call("dave", "DELETE", "/time-entries", json={"ids": ids})
    assert deleted.status_code == 200 and deleted.json()["count"] == 3
    assert (await team.call("dave", "GET", "/time-entries")).json()["total"] == 0


async def test_concurrent_bulk_edits_of_several_people_queue_instead_of_deadlocking(team: Team) -> None:
    """Two batches over the same people's entries in opposite orders: both apply, one after the other
    (each locks every person concerned first, in one order); before, they deadlocked into a 500."""
    ids = []
    for who in ("dave", "carol"):
        for hour in (8, 9, 10):
            made = await team.log(who, f"2026-11-26T{hour:02d}:00:00Z", f"2026-11-26T{hour:02d}:30:00Z")
            assert made.status_code == 201, made.text
            ids.append(made.json()["id"])
    for round_ in range(4):
        forward = {"ids": ids, "changes": {"description": f"a{round_}"}}
        backward = {"ids": ids[::-1], "changes": {"description": f"b{round_}"}}
        answers = await asyncio.gather(
            team.call("alice", "PATCH", "/time-entries", json=forward),
            team.call("bob", "PATCH", "/time-entries", json=backward),
            team.call("alice", "DELETE", f"/time-entries/{uuid.uuid4()}"),  # a single write beside them
        )
        assert [a.status_code for a in answers] == [200, 200, 404], [a.text for a in answers]
        listed = await team.call("alice", "GET", "/time-entries", params={"from": "2026-11-26T00:00:00Z"})
        descriptions = {e["description"] for e in listed.json()["items"]}
        assert len(descriptions) == 1 and descriptions <= {f"a{round_}", f"b{round_}"}  # one batch won, whole


async def test_paging_is_stable(team: Team) -> None:
    for minute in range(0, 50, 10):
        await team.log("dave", f"2026-11-25T09:{minute:02d}:00Z", f"2026-11-25T09:{minute + 5:02d}:00Z")
    seen = []
    for offset in range(0, 5, 2):
        page = await team.call("dave", "GET", "/time-entries", params={"limit": 2, "offset": offset})
        seen += [e["start_at"] for e in page.json()["items"]]
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == 5


async def test_rates_are_snapshotted_and_recalculated_only_on_request(team: Team) -> None:
    dave = str(DEMO_IDS["dave"])
    settings = await team.call("alice", "PATCH", "/time-settings", json={"currency": "USD", "default_rate": "50.00"})
    assert settings.status_code == 200, settings.text
    first = (await team.log("dave", "2026-11-02T09:00:00Z", "2026-11-02T10:00:00Z")).json()
    assert (first["rate"], first["currency"], first["amount"]) == ("50.00", "USD", "50.00")
    # member -> project -> member-on-project, each more specific than the last
    for body, expected in (
        ({"user_id": dave, "amount": "60"}, "60.00"),
        ({"project_id": team.project, "amount": "70"}, "70.00"),
        ({"user_id": dave, "project_id": team.project, "amount": "80"}, "80.00"),
    ):
        assert (await team.call("bob", "PUT", "/rates", json=body)).status_code == 200
        made = (await team.log("dave", "2026-11-03T09:00:00Z", "2026-11-03T10:00:00Z")).json()
        assert made["rate"] == expected
        await team.call("dave", "DELETE", f"/time-entries/{made['id']}")
    assert (await team.call("dave", "PUT", "/rates", json={"user_id": dave, "amount": "1"})).status_code == 403
    # The past is untouched ...
    assert (await team.call("dave", "GET", f"/time-entries/{first['id']}")).json()["rate"] == "50.00"
    # ... until a lead recalculates a range on purpose (audited, with a count).
    body = {"from": "2026-11-01T00:00:00Z", "to": "2026-11-08T00:00:00Z", "project_id": team.project}
    assert (await team.call("dave", "POST", "/time-entries/recalculate-rates", json=body)).status_code == 403
    result = await team.call("carol", "POST", "/time-entries/recalculate-rates", json=body)
    assert result.status_code == 200, result.text
    assert result.json()["changed"] == 1
    assert (await team.call("dave", "GET", f"/time-entries/{first['id']}")).json()["rate"] == "80.00"
    events = (await team.call("alice", "GET", "/audit-events")).json()["items"]
    assert any(e["action"] == "time_entry.rates_recalculated" for e in events)


def test_an_entry_read_built_without_validation_equals_the_validated_one() -> None:
    """The list builds its entries without pydantic's bookkeeping: they must be the models pydantic makes."""
    from datetime import UTC, datetime
    from decimal import Decimal
    from types import SimpleNamespace

    from backend.tracking.reads import entry_read
    from backend.tracking.schemas import TimeEntryRead

    start = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # the night Europe/Berlin moves to summer time
    row = SimpleNamespace(
        id=uuid.uuid4(), user_id=uuid.uuid4(), project_id=uuid.uuid4(), task_id=None, description="Night shift",
        start_at=start, end_at=start.replace(hour=3), duration_seconds=9000, billable=True, tags=["ops"],
        rate=Decimal("80.00"), currency="EUR", source="manual", created_at=start, updated_at=start,
    )  # fmt: skip
    built = entry_read(row, "Europe/Berlin", corrections=-600, locked_until=start.replace(hour=1))
    validated = TimeEntryRead.model_validate(built.model_dump())
    assert built == validated
    assert built.model_dump_json() == validated.model_dump_json()
    assert built.model_fields_set == validated.model_fields_set
    assert built.end_local is not None and built.end_local.utcoffset() != built.start_local.utcoffset()
    assert (built.corrected_duration_seconds, built.amount, built.locked) == (8400, Decimal("186.67"), True)
