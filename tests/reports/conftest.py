from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import DEMO_IDS, Tokens, add_member, create_org
from tests.tracking.conftest import Team


@pytest.fixture
async def org_team(client: httpx.AsyncClient, tokens: Tokens, owner_db: Any) -> Team:
    """alice owner, bob admin, carol manager (lead of Website), dave member (contributor on Website),
    erin auditor, grace member (lead of Mobile), heidi member (contributor on Mobile). Rate 100 EUR/h."""
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, "Report Team")
    for name, role in (
        ("bob", "admin"),
        ("carol", "manager"),
        ("dave", "member"),
        ("erin", "auditor"),
        ("grace", "member"),
        ("heidi", "member"),
    ):
        await add_member(owner_db, org["id"], DEMO_IDS[name], role)
    team = Team(client, tokens, str(org["id"]), "")
    team.project = await team.new_project("Website", {"carol": "lead", "dave": "contributor"})
    settings = await team.call("alice", "PATCH", "/time-settings", json={"currency": "EUR", "default_rate": "100"})
    assert settings.status_code == 200, settings.text
    return team
