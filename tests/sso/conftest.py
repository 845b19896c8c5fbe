"""SSO tests talk to the real Keycloak as its master admin to look at what the backend did there."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Keycloak
from tests.infra import start_worker as spawn_worker
from tests.infra import stop_worker

Worker = Callable[..., subprocess.Popen[bytes]]


class KeycloakOrgs:
    """Keycloak's organizations of the ``worktime`` realm, read and changed as the master admin."""

    def __init__(self, keycloak: Keycloak) -> None:
        self.keycloak = keycloak
        self.base = f"{keycloak.url}/admin/realms/{keycloak.realm}"

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {await self.keycloak.admin_token()}"}
        async with httpx.AsyncClient(timeout=30) as http:
            return await http.request(method, f"{self.base}{path}", headers=headers, **kwargs)

    async def by_alias(self, alias: str) -> dict[str, Any] | None:
        response = await self._call(
            "GET", "/organizations", params={"q": f"worktime_org_id:{alias}", "briefRepresentation": "false"}
        )
        assert response.status_code == 200, response.text
        found = [org for org in response.json() if org.get("alias") == alias]
        return dict(found[0]) if found else None

    async def members(self, kc_id: str) -> set[str]:
        response = await self._call("GET", f"/organizations/{kc_id}/members", params={"max": 1000})
        assert response.status_code == 200, response.text
        return {str(member["id"]) for member in response.json()}

    async def update(self, kc_id: str, representation: dict[str, Any]) -> None:
        response = await self._call("PUT", f"/organizations/{kc_id}", json=representation)
        assert response.status_code == 204, response.text

    async def delete(self, kc_id: str) -> None:
        response = await self._call("DELETE", f"/organizations/{kc_id}")
        assert response.status_code == 204, response.text

    async def create(self, representation: dict[str, Any]) -> str:
        response = await self._call("POST", "/organizations", json=representation)
        assert response.status_code == 201, response.text
        return str(response.headers["location"].rsplit("/", 1)[1])

    async def remove_member(self, kc_id: str, user_id: str) -> None:
        response = await self._call("DELETE", f"/organizations/{kc_id}/members/{user_id}")
        assert response.status_code == 204, response.text


@pytest.fixture
def kc_orgs(keycloak: Keycloak) -> KeycloakOrgs:
    return KeycloakOrgs(keycloak)


@pytest.fixture
def start_worker(migrated: dict[str, str]) -> Iterator[Worker]:
    started: list[subprocess.Popen[bytes]] = []

    def start(**env: str) -> subprocess.Popen[bytes]:
        process = spawn_worker({**migrated, **env})
        started.append(process)
        return process

    yield start
    for process in started:
        stop_worker(process)
