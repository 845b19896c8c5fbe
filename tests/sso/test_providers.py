"""Connecting an organization's identity provider: the ``globex-idp`` realm on the same Keycloak is the
customer's IdP, as OIDC and as SAML."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import DEMO_IDS, add_member, create_org
from tests.sso.conftest import CustomerIdp, KeycloakOrgs

SP_METADATA = """<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example.test">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
      Location="https://sp.example.test/acs" index="0"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>"""


@pytest.fixture
async def org(client: httpx.AsyncClient, tokens: Any, owner_db: Any) -> dict[str, Any]:
    created = await create_org(client, await tokens.headers("alice"), name="Customer Inc.")
    await add_member(owner_db, created["id"], DEMO_IDS["dave"], "member")
    await add_member(owner_db, created["id"], DEMO_IDS["erin"], "auditor")
    return created


def oidc_body(idp: CustomerIdp, **overrides: Any) -> dict[str, Any]:
    return {
        "kind": "oidc",
        "display_name": "Globex Azure AD",
        "discovery_url": idp.issuer,
        "client_id": idp.client_id,
        "client_secret": idp.client_secret,
        **overrides,
    }


async def test_connect_an_oidc_provider_whose_secret_never_comes_back(
    client: httpx.AsyncClient, tokens: Any, org: dict[str, Any], customer_idp: CustomerIdp, kc_orgs: KeycloakOrgs
) -> None:
    headers = await tokens.headers("alice")
    url = f"/api/v1/orgs/{org['id']}/sso/providers"
    response = await client.post(url, json=oidc_body(customer_idp), headers=headers)
    assert response.status_code == 201, response.text
    provider = response.json()
    assert customer_idp.client_secret not in response.text
    assert "client_secret" not in provider and provider["has_client_secret"] is True
    assert provider["discovery_url"] == customer_idp.discovery_url
    assert provider["scopes"] == ["openid", "email", "profile"]
    alias = provider["idp_alias"]
    assert provider["redirect_uri"].endswith(f"/realms/worktime/broker/{alias}/endpoint")

    # Keycloak brokers it: configured from the discovery document, linked to the organization's copy.
    kc = await customer_idp.worktime_idp(alias)
    assert kc is not None
    assert kc["config"]["tokenUrl"] == f"{customer_idp.issuer}/protocol/openid-connect/token"
    assert kc["config"]["clientId"] == "worktime"
    assert kc["config"]["clientSecret"] == "**********"  # stored, and Keycloak does not show it either
    copy = await kc_orgs.by_alias(org["id"])
    assert copy is not None and await customer_idp.org_idps(copy["id"]) == [alias]
    # Its own first-login flow (docs/sso.md, "Existing accounts"): no verified domain yet, so no
    # existing account is linked without Keycloak's proof.
    flow = f"worktime-sso-{alias}"
    assert kc["firstBrokerLoginFlowAlias"] == flow
    steps = (await customer_idp.call("GET", f"/authentication/flows/{flow}/executions", realm="worktime")).json()
    # In this order (Keycloak lists a flow's steps depth-first, by priority).
    assert [s.get("providerId") for s in steps if not s.get("authenticationFlow")] == [
        "idp-review-profile",
        "idp-create-user-if-unique",
        "idp-auto-link",
        "conditional-user-attribute",
        "idp-email-verification",
        "idp-username-password-form",
        "conditional-user-configured",
        "idp-add-organization-member",
    ]
    condition = next(s for s in steps if s.get("providerId") == "conditional-user-attribute")
    config = (
        await customer_idp.call("GET", f"/authentication/config/{condition['authenticationConfig']}", realm="worktime")
    ).json()["config"]
    assert config["attribute_name"] == "email" and config["not"] == "true"
    assert config["attribute_expected_value"] == "(?!)"  # matches no address

    listed = await client.get(url, headers=await tokens.headers("erin"))  # the auditor reads the setup
    assert listed.status_code == 200 and [p["id"] for p in listed.json()] == [provider["id"]]
    assert customer_idp.client_secret not in listed.text
    events = await client.get(f"/api/v1/orgs/{org['id']}/audit-events", headers=headers)
    assert any(e["action"] == "sso_provider.created" for e in events.json()["items"])
    assert customer_idp.client_secret not in events.text

    tested = await client.post(f"{url}/{provider['id']}/test", headers=headers)
    assert tested.status_code == 200, tested.text
    assert tested.json()["ok"] is True

    renamed = await client.patch(
        f"{url}/{provider['id']}",
        json={"display_name": "Globex Entra ID", "client_secret": "rotated-secret", "scopes": ["openid", "email"]},
        headers=headers,
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["display_name"] == "Globex Entra ID" and renamed.json()["scopes"] == ["openid", "email"]
    kc = await customer_idp.worktime_idp(alias)
    assert kc is not None and kc["displayName"] == "Globex Entra ID" and kc["config"]["defaultScope"] == "openid email"

    deleted = await client.delete(f"{url}/{provider['id']}", headers=headers)
    assert deleted.status_code == 204, deleted.text
    assert await customer_idp.worktime_idp(alias) is None
    flows = (await customer_idp.call("GET", "/authentication/flows", realm="worktime")).json()
    assert flow not in {f["alias"] for f in flows}  # the flow went with it
    assert (await client.get(f"{url}/{provider['id']}", headers=headers)).status_code == 404


async def test_a_discovery_url_that_does_not_answer_is_refused_in_plain_words_and_nothing_is_written(
    client: httpx.AsyncClient, tokens: Any, org: dict[str, Any], customer_idp: CustomerIdp, kc_orgs: KeycloakOrgs
) -> None:
    headers = await tokens.headers("alice")
    url = f"/api/v1/orgs/{org['id']}/sso/providers"
    nowhere = oidc_body(customer_idp, discovery_url="http://127.0.0.1:9/realms/x")
    dead = await client.post(url, json=nowhere, headers=headers)
    assert dead.status_code == 422, dead.text
    assert dead.headers["content-type"].startswith("application/problem+json")
    assert "could not be reached" in dead.json()["detail"] and dead.json()["field"] == "discovery_url"

    not_oidc = await client.post(
        url, json=oidc_body(customer_idp, discovery_url=f"{customer_idp.issuer}/account"), headers=headers
    )
    assert not_oidc.status_code == 422, not_oidc.text
    assert "answered HTTP 401, not the document itself" in not_oidc.json()["detail"]

    unknown = await client.post(url, json={**oidc_body(customer_idp), "colour": "blue"}, headers=headers)
    assert unknown.status_code == 422

    assert (await client.get(url, headers=headers)).json() == []
    copy = await kc_orgs.by_alias(org["id"])
    assert copy is not None and await customer_idp.org_idps(copy["id"]) == []


async def test_only_admins_connect_providers(
    client: httpx.AsyncClient, tokens: Any, org: dict[str, Any], customer_idp: CustomerIdp
) -> None:
    url = f"/api/v1/orgs/{org['id']}/sso/providers"
    for person in ("dave", "erin"):
        response = await client.post(url, json=oidc_body(customer_idp), headers=await tokens.headers(person))
        assert response.status_code == 403, response.text
    assert (await client.get(url, headers=await tokens.headers("dave"))).status_code == 403
    # Someone else's organization does not exist for them.
    assert (await client.get(url, headers=await tokens.headers("grace"))).status_code == 404


async def test_connect_a_saml_provider_from_its_metadata(
    client: httpx.AsyncClient, tokens: Any, org: dict[str, Any], customer_idp: CustomerIdp
) -> None:
    headers = await tokens.headers("alice")
    url = f"/api/v1/orgs/{org['id']}/sso/providers"
    response = await client.post(
        url,
        json={"kind": "saml", "display_name": "Globex ADFS", "metadata_url": customer_idp.saml_metadata_url},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    provider = response.json()
    assert provider["saml_entity_id"].endswith("/realms/worktime")
    assert provider["saml_metadata_url"] == provider["redirect_uri"] + "/descriptor"
    kc = await customer_idp.worktime_idp(provider["idp_alias"])
    assert kc is not None and kc["providerId"] == "saml"
    assert kc["config"]["idpEntityId"] == customer_idp.issuer
    assert kc["config"]["singleSignOnServiceUrl"] == f"{customer_idp.issuer}/protocol/saml"
    assert kc["config"]["signingCertificate"]
    # Keycloak serves the SP metadata an IdP admin imports.
    async with httpx.AsyncClient(timeout=30) as http:
        descriptor = await http.get(provider["saml_metadata_url"])
    assert descriptor.status_code == 200 and "AssertionConsumerService" in descriptor.text

    tested = await client.post(f"{url}/{provider['id']}/test", headers=headers)
    assert tested.json()["ok"] is True, tested.text

    # Pasted metadata works the same.
    async with httpx.AsyncClient(timeout=30) as http:
        xml = (await http.get(customer_idp.saml_metadata_url)).text
    pasted = await client.post(
        url, json={"kind": "saml", "display_name": "Pasted", "metadata_xml": xml}, headers=headers
    )
    assert pasted.status_code == 201, pasted.text
    assert pasted.json()["has_metadata_xml"] is True and pasted.json()["metadata_url"] is None


@pytest.mark.parametrize(
    ("xml", "words"),
    [
        ("<md:EntityDescriptor", "not well-formed XML"),
        (SP_METADATA, "describes no identity provider"),
        ("<html><body>Sign in</body></html>", "not SAML 2.0 metadata"),
        ('<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "refuse"),
    ],
)
async def test_malformed_saml_metadata_is_refused_in_plain_words(
    client: httpx.AsyncClient, tokens: Any, org: dict[str, Any], xml: str, words: str
) -> None:
    response = await client.post(
        f"/api/v1/orgs/{org['id']}/sso/providers",
        json={"kind": "saml", "display_name": "Broken", "metadata_xml": xml},
        headers=await tokens.headers("alice"),
    )
    assert response.status_code == 422, response.text
    assert words in response.json()["detail"] and response.json()["field"] == "metadata_xml"


async def test_the_connection_test_says_when_keycloak_lost_the_provider(
    client: httpx.AsyncClient, tokens: Any, org: dict[str, Any], customer_idp: CustomerIdp
) -> None:
    headers = await tokens.headers("alice")
    url = f"/api/v1/orgs/{org['id']}/sso/providers"
    provider = (await client.post(url, json=oidc_body(customer_idp), headers=headers)).json()
    gone = await customer_idp.call("DELETE", f"/identity-provider/instances/{provider['idp_alias']}", realm="worktime")
    assert gone.status_code == 204
    tested = await client.post(f"{url}/{provider['id']}/test", headers=headers)
    assert tested.status_code == 200
    assert tested.json()["ok"] is False and "no longer has this provider" in tested.json()["detail"]
