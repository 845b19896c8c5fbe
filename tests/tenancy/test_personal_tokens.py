"""Personal API tokens: shown once, stored hashed, role-capped, per organization, revocable, audited."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import DEMO_IDS, add_member, create_org


def _in(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


async def _token(client: httpx.AsyncClient, headers: dict[str, str], org_id: Any, **body: Any) -> httpx.Response:
    return await client.post(
        f"/api/v1/orgs/{org_id}/personal-tokens",
        json={"name": "script", "expires_at": _in(30), **body},
        headers=headers,
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_token_is_shown_once_stored_hashed_and_acts_as_its_person(
    client: httpx.AsyncClient, tokens: Any, owner_db: Any
) -> None:
    alice = await tokens.headers("alice")
    org = await create_org(client, alice)
    created = await _token(client, alice, org["id"], role="member")
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["token"]
    assert secret.startswith("wt_pat_") and len(secret) > 40
    assert body["role"] == "member" and body["hint"] == secret[:11]
    stored = await owner_db.fetchrow("SELECT token_hash FROM personal_tokens WHERE id = $1", uuid.UUID(body["id"]))
    assert bytes(stored["token_hash"]) == hashlib.sha256(secret.encode()).digest()

    listed = (await client.get(f"/api/v1/orgs/{org['id']}/personal-tokens", headers=alice)).json()["items"]
    assert [t["id"] for t in listed] == [body["id"]] and "token" not in listed[0]
    assert listed[0]["last_used_at"] is None

    # The token reads the organization as alice, capped at member: members may not rename it.
    read = await client.get(f"/api/v1/orgs/{org['id']}", headers=_bearer(secret))
    assert read.status_code == 200 and read.json()["my_role"] == "member"
    rename = await client.patch(f"/api/v1/orgs/{org['id']}", json={"name": "No"}, headers=_bearer(secret))
    assert rename.status_code == 403
    listed = (await client.get(f"/api/v1/orgs/{org['id']}/personal-tokens", headers=alice)).json()["items"]
    assert listed[0]["last_used_at"] is not None

    # One organization only, and nothing outside organizations.
    other = await create_org(client, alice)
    assert (await client.get(f"/api/v1/orgs/{other['id']}", headers=_bearer(secret))).status_code == 404
    assert (await client.get("/api/v1/orgs", headers=_bearer(secret))).status_code == 403
    # A token cannot mint tokens.
    assert (await _token(client, _bearer(secret), org["id"])).status_code == 403


async def test_role_expiry_and_garbage_are_refused(client: httpx.AsyncClient, tokens: Any, owner_db: Any) -> None:
    alice = await tokens.headers("alice")
    org = await create_org(client, alice)
    await add_member(owner_db, org["id"], DEMO_IDS["dave"], "member")
    dave = await tokens.headers("dave")
    assert (await _token(client, dave, org["id"], role="admin")).status_code == 403
    assert (await _token(client, dave, org["id"], role="auditor")).status_code == 403
    assert (await _token(client, dave, org["id"])).json()["role"] == "member"
    assert (await _token(client, alice, org["id"], expires_at=_in(400))).status_code == 422
    assert (await _token(client, alice, org["id"], expires_at=_in(-1))).status_code == 422
    missing = await client.post(f"/api/v1/orgs/{org['id']}/personal-tokens", json={"name": "x"}, headers=alice)
    assert missing.status_code == 422
    bad = await client.get(f"/api/v1/orgs/{org['id']}", headers=_bearer("wt_pat_" + "A" * 43))
    assert bad.status_code == 401


async def test_revocation_removal_and_demotion_take_effect_on_the_next_request(
    client: httpx.AsyncClient, tokens: Any, owner_db: Any
) -> None:
    alice = await tokens.headers("alice")
    org = await create_org(client, alice)
    url = f"/api/v1/orgs/{org['id']}"
    await add_member(owner_db, org["id"], DEMO_IDS["carol"], "admin")
    carol = await tokens.headers("carol")
    admin_token = (await _token(client, carol, org["id"], role="admin")).json()
    assert (
        await client.patch(url, json={"name": "By token"}, headers=_bearer(admin_token["token"]))
    ).status_code == 200

    # Demoted to member: the admin token now acts as a member.
    await add_member(owner_db, org["id"], DEMO_IDS["carol"], "member")
    assert (await client.get(url, headers=_bearer(admin_token["token"]))).json()["my_role"] == "member"

    # An admin lists everyone's tokens and revokes carol's.
    everyone = (await client.get(f"{url}/personal-tokens", params={"all": True}, headers=alice)).json()["items"]
    assert admin_token["id"] in [t["id"] for t in everyone]
    assert (await client.get(f"{url}/personal-tokens", params={"all": True}, headers=carol)).status_code == 403
    second = (await _token(client, carol, org["id"])).json()
    revoked = await client.delete(f"{url}/personal-tokens/{admin_token['id']}", headers=alice)
    assert revoked.status_code == 204
    assert (await client.get(url, headers=_bearer(admin_token["token"]))).status_code == 401
    assert (await client.get(url, headers=_bearer(second["token"]))).status_code == 200

    # Removed from the organization: the remaining token stops working.
    assert (await client.delete(f"{url}/members/{DEMO_IDS['carol']}", headers=alice)).status_code == 204
    assert (await client.get(url, headers=_bearer(second["token"]))).status_code == 401

    actions = [
        row["action"]
        for row in await owner_db.fetch(
            "SELECT action FROM audit_events WHERE org_id = $1 AND resource_type = 'personal_token' ORDER BY seq",
            uuid.UUID(org["id"]),
        )
    ]
    assert actions[:3] == ["personal_token.created", "personal_token.created", "personal_token.revoked"]
