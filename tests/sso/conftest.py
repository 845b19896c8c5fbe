"""SSO tests talk to the real Keycloak as its master admin to look at what the backend did there."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, cast

import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import httpx
import pytest

from backend.settings import Settings
from tests.conftest import DEMO_IDS, Keycloak, add_member, create_org
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


class TinyDns(asyncio.DatagramProtocol):
    """Answers TXT questions from ``records`` (name -> values); every other name does not exist."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        values = self.records.get(name)
        if values is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.TXT:
            quoted = [f'"{value}"' for value in values]
            txt = dns.rrset.from_text(question.name, 60, dns.rdataclass.IN, dns.rdatatype.TXT, *quoted)
            response.answer.append(txt)
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)


@pytest.fixture
async def tiny_dns(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TinyDns]:
    server = TinyDns()
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: server, local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    monkeypatch.setattr(settings, "sso_dns_nameserver", f"127.0.0.1:{port}")
    yield server
    transport.close()


@pytest.fixture
async def sso(
    client: httpx.AsyncClient,
    tokens: Any,
    owner_db: Any,
    keycloak: Keycloak,
    customer_idp: CustomerIdp,
    tiny_dns: TinyDns,
) -> dict[str, Any]:
    """An organization (alice owner, dave member, erin auditor) with a fresh verified domain and the
    customer realm connected as its OIDC provider, and the realm's SSO token mappers in place."""
    from tests.sso.broker import connect_sso, ensure_realm_mappers  # broker imports this module

    await ensure_realm_mappers(keycloak)
    headers = await tokens.headers("alice")
    org = await create_org(client, headers, name="Corp")
    await add_member(owner_db, org["id"], DEMO_IDS["dave"], "member")
    await add_member(owner_db, org["id"], DEMO_IDS["erin"], "auditor")
    domain, alias = await connect_sso(client, headers, customer_idp, tiny_dns, org["id"])
    return {"org": org, "id": org["id"], "domain": domain, "alias": alias, "headers": headers}
