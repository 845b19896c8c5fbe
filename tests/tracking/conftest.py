from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import DEMO_IDS, Tokens, add_member, create_org


@dataclass
class Team:
    """A fresh organization: alice owner, bob admin, carol manager (lead of the project), dave member
    (contributor), erin auditor; one project."""

    client: httpx.AsyncClient
    tokens: Tokens
    org: str
    project: str

    @property
    def base(self) -> str:
        return f"/api/v1/orgs/{self.org}"

    async def call(self, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.request(method, self.base + path, headers=await self.tokens.headers(who), **kwargs)

    async def log(self, who: str, start: str, end: str, **extra: Any) -> httpx.Response:
        body = {"project_id": self.project, "start_at": start, "end_at": end, **extra}
        return await self.call(who, "POST", "/time-entries", json=body)

    async def new_project(self, name: str, roles: dict[str, str] | None = None, **fields: Any) -> str:
        created = await self.call("alice", "POST", "/projects", json={"name": name, **fields})
        assert created.status_code == 201, created.text
        project_id = str(created.json()["id"])
        for who, role in (roles or {}).items():
            put = await self.call(
                "alice", "PUT", f"/projects/{project_id}/members/{DEMO_IDS[who]}", json={"role": role}
            )
            assert put.status_code == 200, put.text
        return project_id


@pytest.fixture
async def team(client: httpx.AsyncClient, tokens: Tokens, owner_db: Any) -> Team:
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, "Time Team")
    for name, role in (("bob", "admin"), ("carol", "manager"), ("dave", "member"), ("erin", "auditor")):
        await add_member(owner_db, org["id"], DEMO_IDS[name], role)
    made = Team(client, tokens, str(org["id"]), "")
    made.project = await made.new_project("Website", {"carol": "lead", "dave": "contributor"})
    return made
