from __future__ import annotations

import asyncio
import ipaddress
import time
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from backend.core import hooks, safehttp, secrets
from backend.settings import get_settings
from backend.webhooks import service, tasks
from tests.conftest import run_cli
from tests.infra import start_worker, stop_worker
from tests.tracking.conftest import Team
from tests.webhooks.conftest import Receiver


async def _endpoint(team: Team, url: str, events: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    made = await team.call(
        "bob", "POST", "/webhooks", json={"url": url, "events": events or ["member.joined"], **extra}
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


async def test_endpoints_admin_only_secret_shown_once_and_sealed(team: Team, owner_db: Any) -> None:
    assert (
        await team.call("dave", "POST", "/webhooks", json={"url": "https://example.com/h", "events": ["timer.started"]})
    ).status_code == 403
    made = await _endpoint(team, "https://93.184.216.34/hook", ["timer.started", "timer.started", "period.locked"])
    assert made["secret"].startswith("whsec_") and made["events"] == ["period.locked", "timer.started"]
    read = (await team.call("erin", "GET", f"/webhooks/{made['id']}")).json()  # the auditor reads
    assert "secret" not in read and read["active"] is True
    assert (await team.call("erin", "PATCH", f"/webhooks/{made['id']}", json={"active": False})).status_code == 403
    raw = await owner_db.fetchval("SELECT secret_sealed FROM webhook_endpoints WHERE id = $1", uuid.UUID(made["id"]))
    assert made["secret"].encode() not in raw and made["secret"][6:].encode() not in raw
    assert secrets.open_sealed(raw) == made["secret"]
    rotated = (await team.call("bob", "POST", f"/webhooks/{made['id']}/secret")).json()
    assert rotated["secret"] != made["secret"]
    unknown = await team.call("bob", "POST", "/webhooks", json={"url": "https://example.com", "events": ["nope"]})
    assert unknown.status_code == 422
    changed = await team.call("bob", "PATCH", f"/webhooks/{made['id']}", json={"description": "ERP"})
    assert changed.json()["description"] == "ERP"
    assert (await team.call("bob", "DELETE", f"/webhooks/{made['id']}")).status_code == 204
    actions = await owner_db.fetch(
        "SELECT action, changes FROM audit_events WHERE org_id = $1 AND resource_type = 'webhook' ORDER BY seq",
        uuid.UUID(team.org),
    )
    assert [a["action"] for a in actions] == [
        "webhook.created",
        "webhook.secret_rotated",
        "webhook.updated",
        "webhook.deleted",
    ]
    assert all(made["secret"] not in str(a["changes"]) for a in actions)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.10", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),  # the cloud metadata address
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
        ("::ffff:10.0.0.1", "private"),
        ("100.64.0.1", "non-global"),  # shared address space (CGNAT)
    ],
)
async def test_ssrf_refuses_each_forbidden_class(address: str, kind: str) -> None:
    assert safehttp.address_class(ipaddress.ip_address(address)) == kind
    shown = f"[{address}]" if ":" in address else address
    with pytest.raises(safehttp.RefusedDestination, match=kind):
        await safehttp.resolve(f"http://{shown}:8080/hook", allow_loopback=False)


async def test_ssrf_names_schemes_and_registration(team: Team) -> None:
    with pytest.raises(safehttp.RefusedDestination, match="loopback"):
        await safehttp.resolve("http://localhost/hook", allow_loopback=False)  # a name resolving to loopback
    await safehttp.resolve("http://localhost/hook", allow_loopback=True)
    assert str(await safehttp.resolve("https://93.184.216.34/", allow_loopback=False)) == "93.184.216.34"
    for url in ("ftp://93.184.216.34/x", "http://user:pw@93.184.216.34/", "file:///etc/passwd"):
        with pytest.raises(safehttp.RefusedDestination):
            await safehttp.resolve(url, allow_loopback=False)
    refused = await team.call(
        "bob", "POST", "/webhooks", json={"url": "http://169.254.169.254/latest", "events": ["timer.started"]}
    )
    assert refused.status_code == 422 and refused.json()["field"] == "url" and "link-local" in refused.json()["detail"]


async def _delivery(team: Team, endpoint_id: str) -> dict[str, Any]:
    made = await team.call("bob", "POST", f"/webhooks/{endpoint_id}/ping")
    assert made.status_code == 202, made.text
    return dict(made.json())


async def _log(team: Team, endpoint_id: str) -> list[dict[str, Any]]:
    return list((await team.call("erin", "GET", f"/webhooks/{endpoint_id}/deliveries")).json()["items"])


async def test_signed_delivery_verifies_with_the_library(team: Team, receiver: Receiver, app: FastAPI) -> None:
    made = await _endpoint(team, receiver.url)
    delivery = await _delivery(team, made["id"])
    outcome = await service.attempt(app.state.db, uuid.UUID(team.org), uuid.UUID(delivery["id"]), final=False)
    assert outcome.succeeded
    [got] = receiver.received
    event = Webhook(made["secret"]).verify(got.body, got.headers)  # an off-the-shelf verifier
    assert event["type"] == "ping" and event["version"] == 1 and event["org_id"] == team.org
    assert got.headers["webhook-id"] == event["id"] and abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    with pytest.raises(WebhookVerificationError):
        Webhook(service.new_secret()).verify(got.body, got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(made["secret"]).verify(got.body.replace(b"ping", b"pong"), got.headers)
    [logged] = await _log(team, made["id"])
    assert (logged["status"], logged["response_code"], logged["attempts"]) == ("succeeded", 200, 1)
    assert logged["duration_ms"] is not None and logged["duration_ms"] >= 0
    # Manual redelivery: a new log line, the same event id.
    again = (await team.call("bob", "POST", f"/webhooks/{made['id']}/deliveries/{delivery['id']}/redeliver")).json()
    assert again["redelivery_of"] == delivery["id"] and again["event_id"] == delivery["event_id"]
    await service.attempt(app.state.db, uuid.UUID(team.org), uuid.UUID(again["id"]), final=False)
    assert [r.headers["webhook-id"] for r in receiver.received] == [event["id"], event["id"]]


async def test_retries_then_disable_and_notify(
    team: Team, receiver: Receiver, app: FastAPI, owner_db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "webhook_disable_after_failures", 4)
    receiver.answers = [500, 503, 200, 500]
    made = await _endpoint(team, receiver.url)
    org, db = uuid.UUID(team.org), app.state.db
    first = await _delivery(team, made["id"])
    outcomes = [await service.attempt(db, org, uuid.UUID(first["id"]), final=False) for _ in range(3)]
    assert [(o.succeeded, o.retry) for o in outcomes] == [(False, True), (False, True), (True, False)]
    [logged] = await _log(team, made["id"])
    assert (logged["status"], logged["attempts"], logged["response_code"]) == ("succeeded", 3, 200)
    assert (await team.call("bob", "GET", f"/webhooks/{made['id']}")).json()["consecutive_failures"] == 0
    # A failing receiver: the last allowed attempt gives up; the fourth failure in a row disables.
    second = await _delivery(team, made["id"])
    assert (await service.attempt(db, org, uuid.UUID(second["id"]), final=False)).retry
    assert not (await service.attempt(db, org, uuid.UUID(second["id"]), final=True)).retry
    third = await _delivery(team, made["id"])
    assert (await service.attempt(db, org, uuid.UUID(third["id"]), final=False)).retry
    fourth = await _delivery(team, made["id"])
    last = await service.attempt(db, org, uuid.UUID(third["id"]), final=False)
    assert not last.succeeded and not last.retry
    endpoint = (await team.call("bob", "GET", f"/webhooks/{made['id']}")).json()
    assert endpoint["active"] is False and endpoint["disabled_at"] and "4 consecutive" in endpoint["disabled_reason"]
    statuses = {d["id"]: d["status"] for d in await _log(team, made["id"])}
    assert statuses[second["id"]] == statuses[third["id"]] == statuses[fourth["id"]] == "failed"
    calls = len(receiver.received)
    assert not (await service.attempt(db, org, uuid.UUID(fourth["id"]), final=False)).succeeded
    assert len(receiver.received) == calls  # a disabled endpoint is not called
    disabled = await owner_db.fetchval(
        "SELECT count(*) FROM audit_events WHERE org_id = $1 AND action = 'webhook.disabled'", org
    )
    mails = await owner_db.fetch("SELECT arguments FROM outbox WHERE org_id = $1 AND actor_name = 'send_mail'", org)
    assert disabled == 1 and any("disabled" in str(m["arguments"]) for m in mails)
    # Turning it on again clears the failures.
    on = (await team.call("bob", "PATCH", f"/webhooks/{made['id']}", json={"active": True})).json()
    assert on["active"] and on["consecutive_failures"] == 0 and on["disabled_at"] is None


async def test_redirects_are_not_followed_and_refusals_are_final(
    team: Team, receiver: Receiver, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver.answers, receiver.redirect_to = [302], "http://169.254.169.254/latest/meta-data"
    made = await _endpoint(team, receiver.url)
    org, db = uuid.UUID(team.org), app.state.db
    delivery = await _delivery(team, made["id"])
    assert (await service.attempt(db, org, uuid.UUID(delivery["id"]), final=False)).retry
    [logged] = await _log(team, made["id"])
    assert logged["response_code"] == 302 and "redirect" in logged["error"] and len(receiver.received) == 1
    # In production loopback is refused at every attempt, and no retry follows a refused address.
    monkeypatch.setattr(get_settings(), "env", "production")
    refused = await service.attempt(db, org, uuid.UUID(delivery["id"]), final=False)
    assert (refused.succeeded, refused.retry) == (False, False) and len(receiver.received) == 1
    [logged] = await _log(team, made["id"])
    assert logged["status"] == "failed" and "loopback" in logged["error"]


def test_backoff_spans_about_a_day() -> None:
    options = tasks.deliver_webhook.dramatiq_actor.options
    delays = [min(options["min_backoff"] * 2**n, options["max_backoff"]) for n in range(options["max_retries"])]
    assert 20 * 3600 <= sum(delays) / 1000 <= 30 * 3600


async def test_events_reach_subscribers_through_outbox_and_worker(
    team: Team, receiver: Receiver, app: FastAPI, migrated: dict[str, str]
) -> None:
    """emit() in a unit of work -> outbox -> fan_out_event -> deliver_webhook, in a real worker."""
    subscribed = await _endpoint(team, receiver.url, ["member.joined"])
    await _endpoint(team, receiver.url.replace("/hook", "/other"), ["timer.started"])
    await _endpoint(team, receiver.url.replace("/hook", "/slack"), ["member.joined"], format="slack")
    org = uuid.UUID(team.org)
    with pytest.raises(ValueError, match="unknown"):
        hooks.emit(org, "time_entry.exploded")
    try:
        async with app.state.db.unit_of_work(org_id=org) as session:
            hooks.emit(org, "member.joined", user_id=uuid.UUID(int=7), role="member")
            await session.flush()
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    async with app.state.db.unit_of_work(org_id=org):
        hooks.emit(org, "member.joined", user_id=uuid.UUID(int=8), role="member")
    worker = start_worker({**migrated, "WORKTIME_WEBHOOK_ALLOW_LOOPBACK": "true"})
    try:
        for _ in range(150):
            if len(receiver.received) >= 2:
                break
            await asyncio.sleep(0.2)
    finally:
        stop_worker(worker)
    by_path = {r.path: r for r in receiver.received}
    assert set(by_path) == {"/hook", "/slack"}  # the rolled-back event went nowhere, nor to /other
    event = Webhook(subscribed["secret"]).verify(by_path["/hook"].body, by_path["/hook"].headers)
    assert event["type"] == "member.joined" and event["data"] == {"user_id": str(uuid.UUID(int=8)), "role": "member"}
    assert by_path["/slack"].json()["text"].startswith("*member.joined*")
    slack = (await team.call("bob", "GET", "/webhooks")).json()["items"][2]
    assert slack["format"] == "slack" and slack["url"].endswith("/…")


def test_keys_rotate_command_runs() -> None:
    result = run_cli("keys", "rotate")
    assert "webhook_endpoints:" in result.stdout and "integrations:" in result.stdout
