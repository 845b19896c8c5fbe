"""Role changes, removals and the rules that stop privilege escalation."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import DEMO_IDS, Tokens, add_member, create_org
from tests.infra import ROOT


@pytest.fixture
async def team(client: httpx.AsyncClient, tokens: Tokens, owner_db: Any) -> dict[str, Any]:
    """A fresh organization: alice owner, bob admin, carol manager, dave member, erin auditor."""
    org = await create_org(client, await tokens.headers("alice"), "Team")
    for name, role in [("bob", "admin"), ("carol", "manager"), ("dave", "member"), ("erin", "auditor")]:
        await add_member(owner_db, org["id"], DEMO_IDS[name], role)
    return org


async def _role(client: httpx.AsyncClient, tokens: Tokens, org: dict[str, Any], name: str) -> str:
    response = await client.get(f"/api/v1/orgs/{org['id']}", headers=await tokens.headers(name))
    return str(response.json()["my_role"])


@pytest.mark.parametrize(
    ("actor", "target", "role", "why"),
    [
        ("dave", "dave", "admin", "a member promotes themself"),
        ("carol", "dave", "manager", "a manager changes roles at all"),
        ("bob", "dave", "owner", "an admin makes someone owner"),
        ("bob", "bob", "owner", "an admin makes themself owner"),
        ("bob", "alice", "member", "an admin demotes the owner"),
        ("erin", "dave", "auditor", "the auditor changes anything"),
    ],
)
async def test_privilege_escalation_is_refused(
    client: httpx.AsyncClient, tokens: Tokens, team: dict[str, Any], actor: str, target: str, role: str, why: str
) -> None:
    before = await _role(client, tokens, team, target)
    response = await client.patch(
        f"/api/v1/orgs/{team['id']}/members/{DEMO_IDS[target]}",
        json={"role": role},
        headers=await tokens.headers(actor),
    )
    assert response.status_code == 403, why
    assert response.headers["content-type"] == "application/problem+json"
    assert await _role(client, tokens, team, target) == before


@pytest.mark.parametrize(("actor", "role"), [("carol", "admin"), ("carol", "owner"), ("bob", "owner")])
async def test_inviting_above_your_own_role_is_refused(
    client: httpx.AsyncClient, tokens: Tokens, team: dict[str, Any], actor: str, role: str
) -> None:
    response = await client.post(
        f"/api/v1/orgs/{team['id']}/members/invitations",
        json={"email": f"climber-{role}@example.test", "role": role},
        headers=await tokens.headers(actor),
    )
    assert response.status_code == 403
    assert role in response.json()["detail"]


async def test_the_last_owner_stays(client: httpx.AsyncClient, tokens: Tokens, team: dict[str, Any]) -> None:
    alice = await tokens.headers("alice")
    base = f"/api/v1/orgs/{team['id']}/members/{DEMO_IDS['alice']}"
    demote = await client.patch(base, json={"role": "admin"}, headers=alice)
    assert demote.status_code == 409
    assert "last owner" in demote.json()["detail"]
    assert (await client.delete(base, headers=alice)).status_code == 409
    # With a second owner, the first may step down.
    promote = await client.patch(
        f"/api/v1/orgs/{team['id']}/members/{DEMO_IDS['bob']}", json={"role": "owner"}, headers=alice
    )
    assert promote.status_code == 200
    assert (await client.patch(base, json={"role": "admin"}, headers=alice)).status_code == 200


async def test_an_admin_changes_a_role_and_it_is_audited(
    client: httpx.AsyncClient, tokens: Tokens, team: dict[str, Any], owner_db: Any
) -> None:
    response = await client.patch(
        f"/api/v1/orgs/{team['id']}/members/{DEMO_IDS['dave']}",
        json={"role": "manager"},
        headers=await tokens.headers("bob"),
    )
    assert response.status_code == 200
    assert response.json()["role"] == "manager"
    assert await _role(client, tokens, team, "dave") == "manager"
    await owner_db.execute("SELECT set_config('app.org_id', $1, false)", team["id"])
    event = await owner_db.fetchrow(
        "SELECT * FROM audit_events WHERE org_id = $1 ORDER BY seq DESC LIMIT 1", uuid.UUID(team["id"])
    )
    assert event["action"] == "membership.role_changed"
    assert event["actor_user_id"] == DEMO_IDS["bob"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def second_api(migrated: dict[str, str]) -> Iterator[str]:
    """A second API process (uvicorn), sharing only the database and Redis with the first."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "backend", "serve", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, **migrated, "WORKTIME_LOG_LEVEL": "WARNING"},
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail("the second API process did not start")
    yield url
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(15)


async def test_removal_takes_effect_on_the_next_request_on_every_process(
    client: httpx.AsyncClient, tokens: Tokens, team: dict[str, Any], second_api: str
) -> None:
    dave = await tokens.headers("dave")
    org_url = f"/api/v1/orgs/{team['id']}"
    async with httpx.AsyncClient(base_url=second_api, timeout=10) as other:
        assert (await other.get(org_url, headers=dave)).status_code == 200
        assert (await client.get(org_url, headers=dave)).status_code == 200
        removed = await client.delete(f"{org_url}/members/{DEMO_IDS['dave']}", headers=await tokens.headers("bob"))
        assert removed.status_code == 204
        # Same (still valid) token, next request, on either process: the organization is gone for dave.
        assert (await other.get(org_url, headers=dave)).status_code == 404
        assert (await client.get(org_url, headers=dave)).status_code == 404
        assert (await client.get(f"{org_url}/projects", headers=dave)).status_code == 404


async def test_a_member_may_leave(client: httpx.AsyncClient, tokens: Tokens, team: dict[str, Any]) -> None:
    erin = await tokens.headers("erin")
    left = await client.delete(f"/api/v1/orgs/{team['id']}/members/{DEMO_IDS['erin']}", headers=erin)
    assert left.status_code == 204
    assert (await client.get(f"/api/v1/orgs/{team['id']}", headers=erin)).status_code == 404


async def test_admins_cannot_remove_owners(client: httpx.AsyncClient, tokens: Tokens, team: dict[str, Any]) -> None:
    response = await client.delete(
        f"/api/v1/orgs/{team['id']}/members/{DEMO_IDS['alice']}", headers=await tokens.headers("bob")
    )
    assert response.status_code == 403
