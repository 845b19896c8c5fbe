"""SSO tests talk to the real Keycloak as its master admin to look at what the backend did there."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Keycloak
from tests.infra import ROOT, stop_worker
from tests.infra import start_worker as spawn_worker

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


GLOBEX_IDP = "globex-idp"


class CustomerIdp:
    """The ``globex-idp`` realm on the same Keycloak, playing an enterprise customer's identity provider."""

    def __init__(self, keycloak: Keycloak) -> None:
        self.keycloak = keycloak
        self.issuer = f"{keycloak.url}/realms/{GLOBEX_IDP}"
        self.discovery_url = f"{self.issuer}/.well-known/openid-configuration"
        self.saml_metadata_url = f"{self.issuer}/protocol/saml/descriptor"
        self.client_id = "worktime"
        self.client_secret = "globex-idp-dev-secret"

    async def call(self, method: str, path: str, *, realm: str = GLOBEX_IDP, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {await self.keycloak.admin_token()}"}
        async with httpx.AsyncClient(timeout=30) as http:
            return await http.request(
                method, f"{self.keycloak.url}/admin/realms/{realm}{path}", headers=headers, **kwargs
            )

    async def ensure(self) -> None:
        """Stacks import the realm at start (deploy/localstack.py); one started before it existed gets it now."""
        if (await self.call("GET", "")).status_code == 200:
            return
        realm = json.loads((ROOT / "keycloak" / "globex-idp.json").read_text())
        headers = {"Authorization": f"Bearer {await self.keycloak.admin_token()}"}
        async with httpx.AsyncClient(timeout=60) as http:
            response = await http.post(f"{self.keycloak.url}/admin/realms", json=realm, headers=headers)
        assert response.status_code in (201, 409), response.text

    async def worktime_idp(self, alias: str) -> dict[str, Any] | None:
        """The identity provider as the platform's realm holds it."""
        response = await self.call("GET", f"/identity-provider/instances/{alias}", realm=self.keycloak.realm)
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def org_idps(self, kc_org_id: str) -> list[str]:
        response = await self.call("GET", f"/organizations/{kc_org_id}/identity-providers", realm=self.keycloak.realm)
        assert response.status_code == 200, response.text
        return [str(idp["alias"]) for idp in response.json()]


@pytest.fixture
async def customer_idp(keycloak: Keycloak) -> CustomerIdp:
    idp = CustomerIdp(keycloak)
    await idp.ensure()
    return idp
