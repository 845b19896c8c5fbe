"""Claimed email domains (one organization per domain, verified by a DNS TXT record) and home-realm
discovery. The TXT check asks a tiny DNS server on 127.0.0.1 (tests/sso/conftest.py) (dnspython builds its
answers), through the development setting ``WORKTIME_SSO_DNS_NAMESERVER``."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from backend.settings import Settings
from tests.conftest import DEMO_IDS, add_member, create_org
from tests.sso.conftest import CustomerIdp, KeycloakOrgs, TinyDns


@pytest.fixture
async def org(client: httpx.AsyncClient, tokens: Any, owner_db: Any) -> dict[str, Any]:
    created = await create_org(client, await tokens.headers("alice"), name="Contoso")
    await add_member(owner_db, created["id"], DEMO_IDS["dave"], "member")
    await add_member(owner_db, created["id"], DEMO_IDS["erin"], "auditor")
    return created


def fresh_domain() -> str:
    return f"contoso-{uuid.uuid4().hex[:10]}.test"


async def discover(client: httpx.AsyncClient, email: str) -> dict[str, Any]:
    response = await client.get("/api/v1/sso/discover", params={"email": email})  # no token: before sign-in
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_claim_names_the_txt_record_and_a_second_organization_gets_a_409(
    client: httpx.AsyncClient, tokens: Any, org: dict[str, Any]
) -> None:
    alice = await tokens.headers("alice")
    domain = fresh_domain()
    url = f"/api/v1/orgs/{org['id']}/sso/domains"
    claimed = await client.post(url, json={"domain": f"  {domain.upper()}. "}, headers=alice)
    assert claimed.status_code == 201, claimed.text
    body = claimed.json()
    assert body["domain"] == domain and body["verified"] is False
    assert body["txt_record_name"] == f"_worktime-challenge.{domain}"
    assert body["txt_record_value"].startswith("worktime-domain-verification=")

    again = await client.post(url, json={"domain": domain}, headers=alice)
    assert again.status_code == 409 and "already" in again.json()["detail"]

    # Another organization (another tenant, whose rows RLS hides from this one) cannot claim it.
    bob = await tokens.headers("bob")
    other = await create_org(client, bob, name="Squatter")
    taken = await client.post(f"/api/v1/orgs/{other['id']}/sso/domains", json={"domain": domain}, headers=bob)
    assert taken.status_code == 409, taken.text
    assert taken.headers["content-type"].startswith("application/problem+json")
    assert taken.json()["detail"].startswith(f"{domain} is claimed by another organization")
    listed = await client.get(f"/api/v1/orgs/{other['id']}/sso/domains", headers=bob)
    assert listed.status_code == 200 and listed.json() == []

    # The auditor reads, the member does not; neither claims.
    erin, dave = await tokens.headers("erin"), await tokens.headers("dave")
    read = await client.get(f"{url}/{domain}", headers=erin)
    assert read.status_code == 200 and read.json()["txt_record_value"] == body["txt_record_value"]
    assert (await client.post(url, json={"domain": fresh_domain()}, headers=erin)).status_code == 403
    assert (await client.get(url, headers=dave)).status_code == 403

    bad = await client.post(url, json={"domain": "alice@contoso.test"}, headers=alice)
    assert bad.status_code == 422 and "not an email address" in bad.text

    released = await client.delete(f"{url}/{domain}", headers=alice)
    assert released.status_code == 204
    retaken = await client.post(f"/api/v1/orgs/{other['id']}/sso/domains", json={"domain": domain}, headers=bob)
    assert retaken.status_code == 201, retaken.text

    events = await client.get(f"/api/v1/orgs/{org['id']}/audit-events", headers=alice)
    actions = [e["action"] for e in events.json()["items"] if e["resource_type"] == "sso_domain"]
    assert sorted(actions) == ["sso_domain.claimed", "sso_domain.released"]


async def test_verify_checks_the_txt_record_and_puts_the_domain_in_keycloak(
    client: httpx.AsyncClient, tokens: Any, org: dict[str, Any], tiny_dns: TinyDns, kc_orgs: KeycloakOrgs
) -> None:
    alice = await tokens.headers("alice")
    domain = fresh_domain()
    url = f"/api/v1/orgs/{org['id']}/sso/domains"
    claim = (await client.post(url, json={"domain": domain}, headers=alice)).json()
    name, value = claim["txt_record_name"], claim["txt_record_value"]

    missing = await client.post(f"{url}/{domain}/verify", headers=alice)
    assert missing.status_code == 422
    assert missing.json()["detail"] == f"No TXT record was found at {name}. Publish it, wait a few minutes, and retry."

    tiny_dns.records[name] = ["v=spf1 -all", "worktime-domain-verification=not-the-token"]
    wrong = await client.post(f"{url}/{domain}/verify", headers=alice)
    assert wrong.status_code == 422
    assert "holds 'v=spf1 -all', 'worktime-domain-verification=not-the-token'" in wrong.json()["detail"]
    assert f"not '{value}'" in wrong.json()["detail"]
    assert (await client.get(f"{url}/{domain}", headers=alice)).json()["verified"] is False

    tiny_dns.records[name].append(value)
    verified = await client.post(f"{url}/{domain}/verify", headers=alice)
    assert verified.status_code == 200, verified.text
    assert verified.json()["verified"] is True and verified.json()["verified_at"] is not None
    copy = await kc_orgs.by_alias(org["id"])
    assert copy is not None and {"name": domain, "verified": True} in copy["domains"]

    # Releasing takes it out of Keycloak too.
    assert (await client.delete(f"{url}/{domain}", headers=alice)).status_code == 204
    copy = await kc_orgs.by_alias(org["id"])
    assert copy is not None and domain not in [d["name"] for d in copy.get("domains") or []]
    events = await client.get(f"/api/v1/orgs/{org['id']}/audit-events", headers=alice)
    actions = [e["action"] for e in events.json()["items"] if e["resource_type"] == "sso_domain"]
    assert sorted(actions) == ["sso_domain.claimed", "sso_domain.released", "sso_domain.verified"]


async def test_discovery_routes_only_verified_domains_to_the_provider(
    client: httpx.AsyncClient,
    tokens: Any,
    org: dict[str, Any],
    tiny_dns: TinyDns,
    customer_idp: CustomerIdp,
) -> None:
    alice = await tokens.headers("alice")
    provider = await client.post(
        f"/api/v1/orgs/{org['id']}/sso/providers",
        json={
            "kind": "oidc",
            "display_name": "Contoso Entra ID",
            "discovery_url": customer_idp.issuer,
            "client_id": customer_idp.client_id,
            "client_secret": customer_idp.client_secret,
        },
        headers=alice,
    )
    assert provider.status_code == 201, provider.text
    alias = provider.json()["idp_alias"]
    url = f"/api/v1/orgs/{org['id']}/sso/domains"
    verified, unverified = fresh_domain(), fresh_domain()
    claim = (await client.post(url, json={"domain": verified}, headers=alice)).json()
    assert (await client.post(url, json={"domain": unverified}, headers=alice)).status_code == 201
    tiny_dns.records[claim["txt_record_name"]] = [claim["txt_record_value"]]
    assert (await client.post(f"{url}/{verified}/verify", headers=alice)).status_code == 200

    assert await discover(client, f"Ian.Example@{verified.upper()}") == {"method": "sso", "kc_idp_hint": alias}
    # An unverified claim answers exactly as a domain nobody claimed.
    assert await discover(client, f"ian@{unverified}") == {"method": "password", "kc_idp_hint": None}
    assert await discover(client, f"ian@{fresh_domain()}") == {"method": "password", "kc_idp_hint": None}
    malformed = await client.get("/api/v1/sso/discover", params={"email": "no-at-sign"})
    assert malformed.status_code == 422 and "email address" in malformed.json()["detail"]

    # A disabled provider routes nobody; released, the domain routes nobody either.
    patched = await client.patch(
        f"/api/v1/orgs/{org['id']}/sso/providers/{provider.json()['id']}", json={"enabled": False}, headers=alice
    )
    assert patched.status_code == 200, patched.text
    assert await discover(client, f"ian@{verified}") == {"method": "password", "kc_idp_hint": None}
    await client.patch(
        f"/api/v1/orgs/{org['id']}/sso/providers/{provider.json()['id']}", json={"enabled": True}, headers=alice
    )
    assert (await discover(client, f"ian@{verified}"))["method"] == "sso"
    assert (await client.delete(f"{url}/{verified}", headers=alice)).status_code == 204
    assert await discover(client, f"ian@{verified}") == {"method": "password", "kc_idp_hint": None}


def test_the_loopback_nameserver_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="unset it in production"):
        Settings(env="production", sso_dns_nameserver="127.0.0.1:5353")
    with pytest.raises(ValidationError, match="loopback host:port"):
        Settings(env="test", sso_dns_nameserver="8.8.8.8:53")
