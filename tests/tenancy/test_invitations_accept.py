"""Invitations are answered explicitly; no read ever changes a membership."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import DEMO_IDS, Tokens, add_member, create_org


async def _status(owner_db: Any, org_id: str, name: str) -> str | None:
    return await owner_db.fetchval(  # type: ignore[no-any-return]
        "SELECT status FROM memberships WHERE org_id = $1::uuid AND user_id = $2", org_id, DEMO_IDS[name]
    )


async def _actions(owner_db: Any, org_id: str) -> list[str]:
    rows = await owner_db.fetch("SELECT action FROM audit_events WHERE org_id = $1::uuid ORDER BY seq", org_id)
    return [row["action"] for row in rows]


async def test_an_invitee_sees_the_invitation_and_accepts_it(
    client: httpx.AsyncClient, tokens: Tokens, owner_db: Any
) -> None:
    alice, heidi = await tokens.headers("alice"), await tokens.headers("heidi")
    org = await create_org(client, alice, "Invites Heidi")
    await add_member(owner_db, org["id"], DEMO_IDS["heidi"], "manager", status="invited")
    await owner_db.execute(
        "UPDATE memberships SET invited_by = $1 WHERE org_id = $2::uuid AND user_id = $3",
        DEMO_IDS["alice"],
        org["id"],
        DEMO_IDS["heidi"],
    )

    # Reads never accept: the organization stays closed to her, and her membership stays pending.
    for path in ("", "/projects", "/members", "/me/permissions"):
        assert (await client.get(f"/api/v1/orgs/{org['id']}{path}", headers=heidi)).status_code == 404
    assert await _status(owner_db, org["id"], "heidi") == "invited"
    listed = {o["id"]: o for o in (await client.get("/api/v1/orgs", headers=heidi)).json()["items"]}
    assert listed[org["id"]]["membership_status"] == "invited"

    (pending,) = [
        p for p in (await client.get("/api/v1/me/invitations", headers=heidi)).json() if p["org_id"] == org["id"]
    ]
    assert (pending["role"], pending["invited_by"]) == ("manager", str(DEMO_IDS["alice"]))
    assert pending["org_name"] == org["name"] and pending["org_slug"] == org["slug"]

    accepted = await client.post(f"/api/v1/orgs/{org['id']}/invitations/accept", headers=heidi)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "active" and accepted.json()["role"] == "manager"
    assert (await client.get(f"/api/v1/orgs/{org['id']}", headers=heidi)).json()["my_role"] == "manager"
    assert org["id"] not in {p["org_id"] for p in (await client.get("/api/v1/me/invitations", headers=heidi)).json()}
    assert (await _actions(owner_db, org["id"]))[-1] == "membership.accepted"
    # Nothing is pending any more.
    again = await client.post(f"/api/v1/orgs/{org['id']}/invitations/accept", headers=heidi)
    assert again.status_code == 404


async def test_an_invitee_declines(client: httpx.AsyncClient, tokens: Tokens, owner_db: Any) -> None:
    alice, heidi = await tokens.headers("alice"), await tokens.headers("heidi")
    org = await create_org(client, alice, "Declined")
    await add_member(owner_db, org["id"], DEMO_IDS["heidi"], "member", status="invited")

    declined = await client.post(f"/api/v1/orgs/{org['id']}/invitations/decline", headers=heidi)
    assert declined.status_code == 204, declined.text
    assert await _status(owner_db, org["id"], "heidi") is None
    assert (await _actions(owner_db, org["id"]))[-1] == "membership.declined"
    assert (await client.post(f"/api/v1/orgs/{org['id']}/invitations/accept", headers=heidi)).status_code == 404


async def test_strangers_and_members_have_no_invitation_to_answer(
    client: httpx.AsyncClient, tokens: Tokens, demo_orgs: dict[str, Any]
) -> None:
    acme = demo_orgs["acme"]
    # heidi was never invited to acme: the organization's existence is not confirmed.
    stranger = await client.post(f"/api/v1/orgs/{acme}/invitations/accept", headers=await tokens.headers("heidi"))
    assert stranger.status_code == 404
    member = await client.post(f"/api/v1/orgs/{acme}/invitations/accept", headers=await tokens.headers("dave"))
    assert member.status_code == 404
