"""Enterprise single sign-on in headless Chromium: the email-first sign-in page routes an address at a
verified domain to the organization's own identity provider (a customer realm made on the same Keycloak
for this module), and everyone else to Keycloak's password form; and the "Single sign-on" settings page
per role. Real Keycloak, Postgres and Redis; the domain's TXT record is answered by ``web_dns``."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import ACME, Keycloak
from tests.web.conftest import ThreadDns, sign_in, submit_email_first

CUSTOMER_SECRET = "customer-idp-test-secret"
CUSTOMER_PASSWORD = "Customer-pa55-word"


def bearer(keycloak: Keycloak, username: str) -> dict[str, str]:
    answer = httpx.post(
        keycloak.token_url,
        data={
            "grant_type": "password",
            "client_id": "worktime-cli",
            "username": username,
            "password": keycloak.demo_password,
            "scope": "openid",
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def master_admin(keycloak: Keycloak) -> dict[str, str]:
    answer = httpx.post(
        f"{keycloak.url}/realms/master/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "admin-cli",
            "username": keycloak.admin_user,
            "password": keycloak.admin_password,
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@dataclass
class Customer:
    """An enterprise customer: its own realm (its IdP), an organization on the platform with that realm
    connected as its OIDC provider, and an email domain claimed (not yet verified)."""

    realm: str
    domain: str
    org_id: str
    org_name: str
    provider: dict[str, Any]
    person: str  # username at the customer's IdP
    email: str


@pytest.fixture(scope="module")
def customer(web_url: str, keycloak: Keycloak) -> Iterator[Customer]:
    tag = uuid.uuid4().hex[:8]
    realm, domain = f"customer-{tag}", f"initech-{tag}.test"
    person, email = f"pat{tag}", f"pat.{tag}@{domain}"
    admin = master_admin(keycloak)
    made = httpx.post(
        f"{keycloak.url}/admin/realms",
        headers=admin,
        timeout=60,
        json={
            "realm": realm,
            "enabled": True,
            "sslRequired": "external",
            "clients": [
                {
                    "clientId": "worktime",
                    "enabled": True,
                    "publicClient": False,
                    "secret": CUSTOMER_SECRET,
                    "standardFlowEnabled": True,
                    "directAccessGrantsEnabled": False,
                    "redirectUris": ["http://127.0.0.1/*"],
                }
            ],
            "users": [
                {
                    "username": person,
                    "email": email,
                    "firstName": "Pat",
                    "lastName": "Customer",
                    "emailVerified": True,
                    "enabled": True,
                    "credentials": [{"type": "password", "value": CUSTOMER_PASSWORD, "temporary": False}],
                }
            ],
        },
    )
    assert made.status_code == 201, made.text
    alice = bearer(keycloak, "alice")
    with httpx.Client(base_url=f"{web_url}/api/v1", headers=alice, timeout=60) as api:
        org = api.post("/orgs", json={"name": f"Initech {tag}", "slug": f"initech-{tag}"})
        assert org.status_code == 201, org.text
        org_id = org.json()["id"]
        provider = api.post(
            f"/orgs/{org_id}/sso/providers",
            json={
                "kind": "oidc",
                "display_name": "Initech Identity",
                "discovery_url": f"{keycloak.url}/realms/{realm}",
                "client_id": "worktime",
                "client_secret": CUSTOMER_SECRET,
            },
        )
        assert provider.status_code == 201, provider.text
        claimed = api.post(f"/orgs/{org_id}/sso/domains", json={"domain": domain})
        assert claimed.status_code == 201, claimed.text
        try:
            yield Customer(realm, domain, org_id, f"Initech {tag}", provider.json(), person, email)
        finally:
            api.delete(f"/orgs/{org_id}/sso/providers/{provider.json()['id']}", headers=bearer(keycloak, "alice"))
            httpx.delete(f"{keycloak.url}/admin/realms/{realm}", headers=master_admin(keycloak), timeout=60)


def verify(web_url: str, keycloak: Keycloak, web_dns: ThreadDns, customer: Customer) -> None:
    alice = bearer(keycloak, "alice")
    base = f"{web_url}/api/v1/orgs/{customer.org_id}/sso/domains/{customer.domain}"
    record = httpx.get(base, headers=alice).json()
    web_dns.records[record["txt_record_name"]] = [record["txt_record_value"]]
    verified = httpx.post(f"{base}/verify", headers=alice, timeout=30)
    assert verified.status_code == 200 and verified.json()["verified"], verified.text


def test_an_unverified_domain_gets_the_password_form_and_a_verified_one_its_own_provider(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, web_dns: ThreadDns, customer: Customer
) -> None:
    # Claimed but not verified: nobody is routed; Keycloak's password form, the address filled in.
    page = new_page()
    page.goto(f"{web_url}/")
    submit_email_first(page, customer.email)
    page.wait_for_selector("#kc-form-login")
    assert f"/realms/{keycloak.realm}/" in page.url and "kc_idp_hint" not in page.url
    page.wait_for_selector("#password")
    # login_hint: Keycloak already knows the address and names it above the password field.
    assert page.input_value("#kc-attempted-username") == customer.email

    verify(web_url, keycloak, web_dns, customer)

    # Verified: the same address goes to the customer's own login page (its realm), and back signed in.
    page = new_page()
    page.goto(f"{web_url}/orgs/{customer.org_id}/timer")
    submit_email_first(page, customer.email.upper())
    page.wait_for_url(f"{keycloak.url}/realms/{customer.realm}/**")
    page.wait_for_selector("#kc-form-login")
    assert page.input_value("#username") == customer.email.upper()  # login_hint, passed on to the provider
    page.fill("#username", customer.person)
    page.fill("#password", CUSTOMER_PASSWORD)
    page.click("#kc-login")
    page.wait_for_url(f"{web_url}/**")
    page.wait_for_selector("body[data-ready]")
    session = next(c["value"] for c in page.context.cookies() if c["name"] == "wt_session")
    assert customer.email in httpx.get(f"{web_url}/api/v1/me", cookies={"wt_session": session}).text

    # Just-in-time membership: the first SSO sign-in from the verified domain made them a member, with
    # the organization's default role (no invitation, no SCIM).
    page.goto(f"{web_url}/")
    page.wait_for_selector("body[data-ready='true']")
    page.get_by_role("link", name=customer.org_name).click()
    page.wait_for_selector("body[data-ready='true']")
    assert customer.org_name in (page.text_content("#org-name") or "")
    assert "(member)" in (page.text_content("#org-name") or "")

    # A plain username never names a domain: the password form (heidi's globex.test is verified in the seed).
    other = new_page()
    sign_in(other, web_url, "heidi", keycloak.demo_password)
    assert "Globex" in (other.text_content("#orgs") or "")


def test_the_sign_in_page_refuses_what_is_not_an_email_address(web_url: str, new_page: Callable[..., Any]) -> None:
    page = new_page()
    page.goto(f"{web_url}/auth/login")
    submit_email_first(page, "someone@")
    page.wait_for_selector("#alert")
    assert "not an email address" in (page.text_content("#alert") or "")
    assert page.input_value("#signin-email") == "someone@"


def test_the_sso_settings_page_per_role(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, demo_orgs: dict[str, Any]
) -> None:
    org = demo_orgs[ACME]
    # bob (admin) sees the page in the nav, claims a domain and sees its TXT record, and creates a SCIM secret.
    bob = new_page()
    sign_in(bob, web_url, "bob", keycloak.demo_password, f"/orgs/{org}/timer")
    bob.get_by_role("link", name="Single sign-on").click()
    bob.wait_for_selector("body[data-ready='true']")
    assert bob.locator("#provider-form").is_visible()  # no provider yet: the connect form
    domain = f"acme-{uuid.uuid4().hex[:8]}.test"
    bob.fill("#d-domain", domain)
    bob.get_by_role("button", name="Claim domain").click()
    row = bob.locator(f"#domains tr[data-domain='{domain}']")
    row.wait_for()
    assert "not verified" in (row.text_content() or "")
    assert f"_worktime-challenge.{domain}" in (row.text_content() or "")
    assert "worktime-domain-verification=" in (row.text_content() or "")
    # Verifying without the record: the API's plain words.
    row.get_by_role("button", name="Verify").click()
    bob.wait_for_selector("#alert:not([hidden])")
    assert "No TXT record was found" in (bob.text_content("#alert") or "")
    # The SCIM secret (the seed made one: "Rotate") is shown once, then only its last four characters.
    bob.get_by_role("button", name="Rotate secret").click()
    bob.wait_for_selector("#scim-secret:not([hidden])")
    secret = bob.text_content("#scim-secret-value") or ""
    assert secret.startswith("wt_scim_")
    bob.reload()
    bob.wait_for_selector("body[data-ready='true']")
    assert secret[-4:] in (bob.text_content("#scim-state") or "") and secret not in bob.content()
    # A provider with a wrong discovery URL is refused in plain words, nothing saved.
    bob.fill("#f-name", "Broken")
    bob.fill("#f-discovery", f"{keycloak.url}/realms/no-such-realm-{uuid.uuid4().hex[:6]}")
    bob.fill("#f-client", "worktime")
    bob.fill("#f-secret", "s3cret")
    bob.get_by_role("button", name="Connect provider").click()
    bob.wait_for_selector("#alert:not([hidden])")
    assert "discovery document" in (bob.text_content("#alert") or "")
    row.get_by_role("button", name="Release").click()
    row.get_by_role("button", name="Click again to release").click()
    bob.locator(f"#domains tr[data-domain='{domain}']").wait_for(state="detached")
    # Sign-in rules: a group mapped to a role (never above admin: owner is not offered), listed, removed;
    # enforcing without a provider is refused in the API's plain words, nothing saved.
    group = f"eng-leads-{uuid.uuid4().hex[:6]}"
    assert "owner" not in bob.locator("#m-role option").all_text_contents()
    bob.fill("#m-value", group)
    bob.select_option("#m-role", "admin")
    bob.get_by_role("button", name="Add mapping").click()
    mapping = bob.locator(f"#mappings tr[data-mapping='{group}']")
    mapping.wait_for()
    assert "admin" in (mapping.text_content() or "")
    bob.check("#r-enforce")
    bob.get_by_role("button", name="Save rules").click()
    bob.wait_for_selector("#alert:not([hidden])")
    assert "can be enforced once the organization has an enabled identity provider" in (
        bob.text_content("#alert") or ""
    )
    bob.reload()
    bob.wait_for_selector("body[data-ready='true']")
    assert not bob.is_checked("#r-enforce")
    mapping.get_by_role("button", name="Remove").click()
    mapping.get_by_role("button", name="Click again to remove").click()
    mapping.wait_for(state="detached")

    # erin (auditor) reads: no forms, no SCIM secret.
    erin = new_page()
    sign_in(erin, web_url, "erin", keycloak.demo_password, f"/orgs/{org}/sso")
    assert erin.locator("#domains-panel").is_visible()
    assert erin.locator("#domain-form").is_hidden() and erin.locator("#provider-form").is_hidden()
    assert erin.locator("#scim-panel").is_hidden()
    assert erin.locator("#rules-panel").is_visible() and erin.locator("#mapping-form").is_hidden()
    assert erin.is_disabled("#r-enforce") and erin.locator("#r-save").is_hidden()

    # dave (member): not in the nav, and a plain message at the address.
    dave = new_page()
    sign_in(dave, web_url, "dave", keycloak.demo_password, f"/orgs/{org}/sso")
    assert dave.get_by_role("link", name="Single sign-on").is_hidden()
    assert "for the organization's owners, admins and auditors" in (dave.text_content("#main") or "")
    assert dave.locator("#domains-panel").is_hidden()


def test_the_sso_settings_page_shows_a_connected_provider_and_tests_it(
    web_url: str, new_page: Callable[..., Any], keycloak: Keycloak, customer: Customer
) -> None:
    # alice founded the customer's organization: owner, she sees and tests its provider.
    page = new_page()
    sign_in(page, web_url, "alice", keycloak.demo_password, f"/orgs/{customer.org_id}/sso")
    assert page.text_content("#p-name") == "Initech Identity"
    assert page.text_content("#p-secret") == "set (never shown)"
    assert CUSTOMER_SECRET not in page.content()
    assert (page.text_content("#p-redirect") or "").endswith(f"/broker/{customer.provider['idp_alias']}/endpoint")
    page.get_by_role("button", name="Test connection").click()
    page.wait_for_selector("#p-test-result:not([hidden])")
    assert (page.text_content("#p-test-result") or "").startswith("Connection works.")
    # Edit: rename it (the secret stays write-only and unchanged when left empty).
    page.get_by_role("button", name="Edit").click()
    page.fill("#f-name", "Initech Entra ID")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_selector("#alert.info")
    assert page.text_content("#p-name") == "Initech Entra ID"
    assert page.text_content("#p-secret") == "set (never shown)"


def test_the_seed_sends_globex_addresses_to_the_globex_idp_realm(web_url: str, new_page: Callable[..., Any]) -> None:
    # The session's `backend seed` connected globex-idp as Globex's provider, globex.test verified.
    page = new_page()
    page.goto(f"{web_url}/")
    submit_email_first(page, "ian@globex.test")
    page.wait_for_url("**/realms/globex-idp/**")
    page.wait_for_selector("#kc-form-login")
    page.fill("#username", "ian")
    page.fill("#password", "globex-demo")
    page.click("#kc-login")
    page.wait_for_url(f"{web_url}/**")
    page.wait_for_selector("body[data-ready='true']")
    session = next(c["value"] for c in page.context.cookies() if c["name"] == "wt_session")
    assert "ian@globex.test" in httpx.get(f"{web_url}/api/v1/me", cookies={"wt_session": session}).text
