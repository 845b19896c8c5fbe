"""A person signing in through an organization's identity provider, driven over HTTP: Keycloak's
authorization endpoint with ``kc_idp_hint``, the customer realm's login form, the broker's way back,
and the code exchange (public client ``worktime-web``, PKCE). Plus the customer realm's people."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import uuid
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import httpx

from tests.conftest import Keycloak
from tests.infra import ROOT
from tests.sso.conftest import CustomerIdp

CLIENT_ID = "worktime-web"
REDIRECT_URI = "http://127.0.0.1:9/callback"  # never reached: the code is read from the redirect
PASSWORD = "Customer-pass-1"
_FORM = re.compile(r'<form[^>]*\baction="([^"]+)"', re.IGNORECASE)


class _Browser:
    """Cookies as a browser keeps them for loopback: Keycloak marks its session cookies ``Secure``,
    which browsers send to 127.0.0.1 over plain http and the standard library's cookie jar does not.
    Keyed by (path, name): both realms set an ``AUTH_SESSION_ID`` under their own path."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.jar: dict[tuple[str, str], str] = {}

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        path = urlparse(url).path
        sent = [f"{name}={value}" for (prefix, name), value in self.jar.items() if path.startswith(prefix)]
        headers = {"Cookie": "; ".join(sent)} if sent else {}
        response = await self.http.request(method, url, headers=headers, **kwargs)
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            value, *attributes = rest.split(";")
            cookie_path = next((a.split("=", 1)[1] for a in attributes if a.strip().lower().startswith("path=")), "/")
            expired = any(a.strip().lower() in ("max-age=0",) for a in attributes) or not value
            if expired:
                self.jar.pop((cookie_path, name.strip()), None)
            else:
                self.jar[(cookie_path, name.strip())] = value
        return response


class BrokerLoginFailed(AssertionError):
    pass


def _form_action(page: httpx.Response) -> str:
    found = _FORM.search(page.text)
    if found is None:
        raise BrokerLoginFailed(f"no form on {page.url}: {page.text[:2000]}")
    return html.unescape(found.group(1))


async def broker_login(keycloak: Keycloak, alias: str, username: str, password: str = PASSWORD) -> dict[str, Any]:
    """Sign in as ``username`` at the customer realm through the provider ``alias``; the token
    response of the platform's realm (``access_token`` …)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    realm = f"{keycloak.url}/realms/{keycloak.realm}/protocol/openid-connect"
    params = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "openid",
        "state": secrets.token_urlsafe(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "kc_idp_hint": alias,
    }
    async with httpx.AsyncClient(timeout=30) as http:
        browser = _Browser(http)
        response = await browser.request("GET", f"{realm}/auth", params=params)
        code = None
        posted = False
        for _ in range(20):
            if response.is_redirect:
                location = urljoin(str(response.url), response.headers["location"])
                if location.startswith(REDIRECT_URI):
                    query = parse_qs(urlparse(location).query)
                    if "code" not in query:
                        raise BrokerLoginFailed(f"no code in {location}")
                    code = query["code"][0]
                    break
                response = await browser.request("GET", location)
                continue
            if response.status_code != 200:
                raise BrokerLoginFailed(f"{response.status_code} at {response.url}: {response.text[:2000]}")
            action = _form_action(response)
            if 'name="password"' in response.text and not posted:  # the customer realm's login form
                response = await browser.request("POST", action, data={"username": username, "password": password})
                posted = True
            else:
                raise BrokerLoginFailed(f"unexpected page at {response.url}: {response.text[:3000]}")
        if code is None:
            raise BrokerLoginFailed("the sign-in never came back")
        token = await http.post(
            f"{realm}/token",
            data={
                "grant_type": "authorization_code",
                "client_id": CLIENT_ID,
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
        )
    assert token.status_code == 200, token.text
    return dict(token.json())


def bearer(token: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token['access_token']}"}


def claims(access_token: str) -> dict[str, Any]:
    payload = access_token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


async def ensure_realm_mappers(keycloak: Keycloak) -> None:
    """Stacks import keycloak/realm.json when first started; one started before its SSO mappers
    existed gets them now (the same definitions, through the admin API)."""
    realm = json.loads((ROOT / "keycloak" / "realm.json").read_text())
    wanted = next(c for c in realm["clients"] if c["clientId"] == CLIENT_ID)["protocolMappers"]
    headers = {"Authorization": f"Bearer {await keycloak.admin_token()}"}
    base = f"{keycloak.url}/admin/realms/{keycloak.realm}"
    async with httpx.AsyncClient(timeout=30, headers=headers) as http:
        found = (await http.get(f"{base}/clients", params={"clientId": CLIENT_ID})).json()
        client_uuid = found[0]["id"]
        have = {m["name"] for m in (await http.get(f"{base}/clients/{client_uuid}/protocol-mappers/models")).json()}
        for mapper in wanted:
            if mapper["name"] not in have:
                response = await http.post(f"{base}/clients/{client_uuid}/protocol-mappers/models", json=mapper)
                assert response.status_code == 201, response.text


async def customer_person(idp: CustomerIdp, email: str, groups: list[str]) -> str:
    """A person at the customer's identity provider (the ``globex-idp`` realm), in ``groups``."""
    local = email.split("@")[0]
    response = await idp.call(
        "POST",
        "/users",
        json={
            "username": f"{local}-{uuid.uuid4().hex[:6]}",
            "email": email,
            "firstName": local.capitalize(),
            "lastName": "Customer",
            "emailVerified": True,
            "enabled": True,
            "groups": [f"/{group}" for group in groups],
            "credentials": [{"type": "password", "value": PASSWORD, "temporary": False}],
        },
    )
    assert response.status_code == 201, response.text
    return str(response.headers["location"].rsplit("/", 1)[1])


async def set_groups(idp: CustomerIdp, user_id: str, groups: list[str]) -> None:
    """Move the customer's person into exactly ``groups`` (which must exist in its realm)."""
    known = {g["name"]: g["id"] for g in (await idp.call("GET", "/groups")).json()}
    current = {g["name"] for g in (await idp.call("GET", f"/users/{user_id}/groups")).json()}
    for name in current - set(groups):
        assert (await idp.call("DELETE", f"/users/{user_id}/groups/{known[name]}")).status_code == 204
    for name in set(groups) - current:
        assert (await idp.call("PUT", f"/users/{user_id}/groups/{known[name]}")).status_code == 204


async def connect_sso(
    client: httpx.AsyncClient, headers: dict[str, str], idp: CustomerIdp, dns: Any, org_id: str
) -> tuple[str, str]:
    """Give the organization a verified domain (a fresh one; the tiny DNS answers its TXT record) and the
    customer realm as its OIDC provider. Returns (domain, provider alias)."""
    domain = f"corp-{uuid.uuid4().hex[:10]}.test"
    claimed = await client.post(f"/api/v1/orgs/{org_id}/sso/domains", json={"domain": domain}, headers=headers)
    assert claimed.status_code == 201, claimed.text
    dns.records[claimed.json()["txt_record_name"]] = [claimed.json()["txt_record_value"]]
    verified = await client.post(f"/api/v1/orgs/{org_id}/sso/domains/{domain}/verify", headers=headers)
    assert verified.status_code == 200, verified.text
    body = {
        "kind": "oidc",
        "display_name": "Corp IdP",
        "discovery_url": idp.issuer,
        "client_id": idp.client_id,
        "client_secret": idp.client_secret,
    }
    provider = await client.post(f"/api/v1/orgs/{org_id}/sso/providers", json=body, headers=headers)
    assert provider.status_code == 201, provider.text
    return domain, str(provider.json()["idp_alias"])


async def password_person(keycloak: Keycloak, email: str) -> str:
    """An account of the platform's own realm with a password (no identity provider), at ``email``."""
    username = f"pw-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            f"{keycloak.url}/admin/realms/{keycloak.realm}/users",
            headers={"Authorization": f"Bearer {await keycloak.admin_token()}"},
            json={
                "username": username,
                "email": email,
                "firstName": "Pat",
                "lastName": "Password",
                "emailVerified": True,
                "enabled": True,
                "credentials": [{"type": "password", "value": PASSWORD, "temporary": False}],
            },
        )
    assert response.status_code == 201, response.text
    return username
