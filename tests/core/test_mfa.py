"""A second factor (TOTP) through Keycloak's own browser flow, the ``amr`` claim it leaves in the access
token, and an organization's rule that its owners and admins act above a member's rights only with it.

Everything runs against the real Keycloak: the person enrolls through the CONFIGURE_TOTP required action
(the page Keycloak shows at sign-in, driven over HTTP), signs in again through the login form and the
OTP form with a code pyotp computes from the secret that page showed, and the token goes to the API.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pyotp
import pytest

from tests.conftest import DEMO_IDS, Keycloak, Tokens, add_member, create_org

CLIENT_ID = "worktime-web"  # the public browser client: authorization code + PKCE
REDIRECT_URI = "http://127.0.0.1:9/callback"  # never contacted: the code is read off the redirect
MFA_PROBLEM = "second-factor-required"


class SignInRefused(Exception):
    """Keycloak answered a form with a page that is not the next step (e.g. an invalid code)."""


@dataclass
class SignIn:
    access_token: str
    totp: pyotp.TOTP | None  # the authenticator, when this sign-in enrolled one
    enrollment_code: str | None = None  # the code that confirmed it (Keycloak will not take it again)

    @property
    def claims(self) -> dict[str, Any]:
        return dict(jwt.decode(self.access_token, options={"verify_signature": False}))

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def _form(page: str, form_id: str) -> tuple[str, dict[str, str]] | None:
    """The action and hidden inputs of ``<form id=form_id>`` on a Keycloak page, if there is one."""
    match = re.search(rf'<form[^>]*id="{form_id}"[^>]*action="([^"]+)"', page) or re.search(
        rf'<form[^>]*action="([^"]+)"[^>]*id="{form_id}"', page
    )
    if match is None:
        return None
    hidden = {
        name: html.unescape(value)
        for name, value in re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page)
    }
    return html.unescape(match.group(1)), hidden


class Browser:
    """An HTTP client that keeps cookies as a browser does on http://127.0.0.1 (a secure context for
    browsers, so Keycloak's ``Secure`` cookies are sent back; Python's cookie jar would drop them)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.cookies: dict[str, str] = {}

    def _keep(self, response: httpx.Response) -> httpx.Response:
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            value, _, attributes = rest.partition(";")
            if "max-age=0" in attributes.lower().replace(" ", "") or not value:
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value.strip()
        return response

    def _headers(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self._keep(await self.http.get(url, headers=self._headers(), **kwargs))

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self._keep(await self.http.post(url, headers=self._headers(), **kwargs))


async def browser_sign_in(keycloak: Keycloak, username: str, password: str, *, code: str | None = None) -> SignIn:
    """Sign in as a browser would: the authorization endpoint, the login form, then whatever Keycloak asks
    (set up an authenticator: CONFIGURE_TOTP; or the OTP form), up to the redirect with the code."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    realm = f"{keycloak.url}/realms/{keycloak.realm}"
    enrolled: pyotp.TOTP | None = None
    enrollment_code: str | None = None
    otp_tried = password_posted = False
    async with httpx.AsyncClient(timeout=30, follow_redirects=False) as http:
        browser = Browser(http)
        response = await browser.get(
            f"{realm}/protocol/openid-connect/auth",
            params={
                "client_id": CLIENT_ID,
                "redirect_uri": REDIRECT_URI,
                "response_type": "code",
                "scope": "openid",
                "state": secrets.token_urlsafe(8),
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        login = _form(response.text, "kc-form-login")
        assert login is not None, response.text[:2000]
        response = await browser.post(login[0], data={"username": username, "password": password})
        for _ in range(8):
            if response.status_code in (302, 303):
                location = response.headers["location"]
                if location.startswith(REDIRECT_URI):
                    break
                response = await browser.get(location)
                continue
            page = response.text
            if (again := _form(page, "kc-form-login")) is not None:
                # Organizations on: the first form was identity-first (the username picks a provider); the
                # password form follows, naming the person already. Twice means the password was refused.
                if password_posted:
                    raise SignInRefused("Keycloak refused the password")
                password_posted = True
                response = await browser.post(again[0], data={"username": username, "password": password})
            elif (setup := _form(page, "kc-totp-settings-form")) is not None:
                # The page shows the secret for manual entry; the form carries it raw (totpSecret).
                raw = setup[1]["totpSecret"]
                enrolled = pyotp.TOTP(base64.b32encode(raw.encode()).decode())
                enrollment_code = enrolled.now()
                response = await browser.post(
                    setup[0],
                    data={"totp": enrollment_code, "totpSecret": raw, "userLabel": "pytest", "mode": "manual"},
                )
            elif (otp := _form(page, "kc-otp-login-form")) is not None:
                if code is None:
                    raise SignInRefused("Keycloak asks for a one-time code")
                if otp_tried:
                    raise SignInRefused("Keycloak refused the one-time code")
                otp_tried = True
                response = await browser.post(otp[0], data={"otp": code})
            else:
                body = re.sub(r"<script.*?</script>|<style.*?</style>|<[^>]+>", " ", page, flags=re.S)
                raise SignInRefused(f"an unexpected page ({response.status_code}): {' '.join(body.split())[:500]}")
        else:
            raise AssertionError("the sign-in did not end in a redirect to the client")
        query = parse_qs(urlsplit(response.headers["location"]).query)
        assert "code" in query, query
        token = await browser.post(
            f"{realm}/protocol/openid-connect/token",
            data={
                "grant_type": "authorization_code",
                "client_id": CLIENT_ID,
                "code": query["code"][0],
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
        )
    assert token.status_code == 200, token.text
    return SignIn(access_token=str(token.json()["access_token"]), totp=enrolled, enrollment_code=enrollment_code)


async def _require_totp_setup(keycloak: Keycloak, user_id: uuid.UUID) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.put(
            f"{keycloak.url}/admin/realms/{keycloak.realm}/users/{user_id}",
            headers={"Authorization": f"Bearer {await keycloak.admin_token()}"},
            json={"requiredActions": ["CONFIGURE_TOTP"]},
        )
    assert response.status_code == 204, response.text


@dataclass
class Enrolled:
    username: str
    password: str
    totp: pyotp.TOTP
    used: set[str] = field(default_factory=set[str])

    async def code(self) -> str:
        """A code Keycloak accepts and has not seen: codes are single-use, and the realm accepts the
        previous, current and next 30-second step (otpPolicyLookAheadWindow 1)."""
        while True:
            now = time.time()
            for offset in (1, 0, -1):
                candidate = self.totp.at(now + offset * self.totp.interval)
                if candidate not in self.used:
                    self.used.add(candidate)
                    return candidate
            await asyncio.sleep(self.totp.interval - now % self.totp.interval + 0.5)


@pytest.fixture(scope="module")
async def enrolled(keycloak: Keycloak) -> Enrolled:
    """A person who set up an authenticator app at their first sign-in (Keycloak's CONFIGURE_TOTP)."""
    username = f"mfa-{uuid.uuid4().hex[:8]}"
    password = "Pa55-word-for-tests"
    user_id = await keycloak.create_user(username, password=password)
    await _require_totp_setup(keycloak, user_id)
    first = await browser_sign_in(keycloak, username, password)
    assert first.totp is not None, "Keycloak did not ask to set up an authenticator"
    assert first.enrollment_code is not None
    # Setting it up proved the password, not a second factor: the OTP form did not run.
    assert first.claims["amr"] == ["pwd"]
    return Enrolled(username=username, password=password, totp=first.totp, used={first.enrollment_code})


async def test_an_enrolled_person_signs_in_with_a_code_and_the_token_says_otp(
    keycloak: Keycloak, enrolled: Enrolled, client: httpx.AsyncClient
) -> None:
    # Password alone no longer gets through the browser flow: the OTP form follows.
    with pytest.raises(SignInRefused, match="asks for a one-time code"):
        await browser_sign_in(keycloak, enrolled.username, enrolled.password)
    # A wrong code is refused.
    with pytest.raises(SignInRefused, match="refused"):
        await browser_sign_in(keycloak, enrolled.username, enrolled.password, code="000000")
    signed_in = await browser_sign_in(keycloak, enrolled.username, enrolled.password, code=await enrolled.code())
    assert {"pwd", "otp"} <= set(signed_in.claims["amr"]), signed_in.claims
    # The API accepts it (and the principal knows the second factor: see the rule tests below).
    assert (await client.get("/api/v1/me", headers=signed_in.headers)).status_code == 200


async def test_a_password_only_sign_in_says_pwd(keycloak: Keycloak) -> None:
    token = await keycloak.password_token("bob")
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert claims["amr"] == ["pwd"]


def _problem(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return dict(response.json())


async def test_an_org_that_requires_mfa_refuses_admins_without_it_above_member_rights(
    keycloak: Keycloak, enrolled: Enrolled, client: httpx.AsyncClient, tokens: Tokens, owner_db: Any
) -> None:
    owner = await browser_sign_in(keycloak, enrolled.username, enrolled.password, code=await enrolled.code())
    org = await create_org(client, owner.headers, "MFA Org")
    base = f"/api/v1/orgs/{org['id']}"
    await add_member(owner_db, org["id"], DEMO_IDS["bob"], "admin")
    await add_member(owner_db, org["id"], DEMO_IDS["dave"], "member")
    bob, dave = await tokens.headers("bob"), await tokens.headers("dave")

    # Off (the default): the admin without a second factor may rename the organization.
    assert (await client.get(base, headers=bob)).json()["require_mfa_for_admins"] is False
    assert (await client.patch(base, json={"name": "Renamed once"}, headers=bob)).status_code == 200

    # Only the owner may turn it on, and only from a sign-in that used a second factor.
    response = await client.put(f"{base}/security", json={"require_mfa_for_admins": True}, headers=bob)
    assert response.status_code == 403
    assert _problem(response)["type"].endswith("/forbidden")
    response = await client.put(f"{base}/security", json={"require_mfa_for_admins": True}, headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.json()["require_mfa_for_admins"] is True

    # On: the admin is refused what a member could not do, with a problem that says how to enroll …
    response = await client.patch(base, json={"name": "Renamed twice"}, headers=bob)
    assert response.status_code == 403
    problem = _problem(response)
    assert problem["type"].endswith(f"/{MFA_PROBLEM}")
    assert problem["permission"] == "organization:update"
    assert problem["enroll"]["required_action"] == "CONFIGURE_TOTP"
    assert problem["enroll"]["account_console"].endswith(
        f"/realms/{keycloak.realm}/account/account-security/signing-in"
    )
    assert "second factor" in problem["detail"]
    response = await client.post(f"{base}/projects", json={"name": "Not now", "key": "NOW"}, headers=bob)
    assert response.status_code == 403
    assert _problem(response)["type"].endswith(f"/{MFA_PROBLEM}")
    # … and keeps what a member may do.
    assert (await client.get(base, headers=bob)).status_code == 200
    assert (await client.get(f"{base}/members", headers=bob)).status_code == 200
    permissions = (await client.get(f"{base}/me/permissions", headers=bob)).json()
    assert permissions["second_factor_required"] is True
    assert "organization:update" not in permissions["permissions"]
    assert "member:list" in permissions["permissions"]
    explained = (
        await client.get(f"{base}/me/permissions/explain", params={"permission": "organization:update"}, headers=bob)
    ).json()
    assert explained["allowed"] is False
    assert explained["second_factor_required"] is True

    # Members are unaffected: what they may do still works, what they may not is the plain 403.
    assert (await client.get(base, headers=dave)).status_code == 200
    dave_permissions = (await client.get(f"{base}/me/permissions", headers=dave)).json()
    assert dave_permissions["second_factor_required"] is False
    response = await client.patch(base, json={"name": "Members cannot"}, headers=dave)
    assert response.status_code == 403
    assert _problem(response)["type"].endswith("/forbidden")

    # The owner who signed in with a code acts in full.
    assert (await client.patch(base, json={"name": "Renamed by owner"}, headers=owner.headers)).status_code == 200

    # A personal token shows no second factor: with the rule on, an admin-role token acts as a member.
    created = await client.post(
        f"{base}/personal-tokens",
        json={"name": "ci", "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
        headers=owner.headers,
    )
    assert created.status_code == 201, created.text
    pat = {"Authorization": f"Bearer {created.json()['token']}"}
    assert (await client.get(base, headers=pat)).status_code == 200
    response = await client.patch(base, json={"name": "By token"}, headers=pat)
    assert response.status_code == 403
    assert _problem(response)["type"].endswith(f"/{MFA_PROBLEM}")

    # Turned off again: the admin acts in full once more.
    response = await client.put(f"{base}/security", json={"require_mfa_for_admins": False}, headers=owner.headers)
    assert response.status_code == 200
    assert (await client.patch(base, json={"name": "Renamed again"}, headers=bob)).status_code == 200
    assert (await client.patch(base, json={"name": "By token again"}, headers=pat)).status_code == 200

    # Both changes are in the audit trail.
    trail = await client.get(
        f"{base}/audit-events", params={"action": "organization.security_updated"}, headers=owner.headers
    )
    events = trail.json()["items"]
    assert [event["changes"] for event in events] == [
        {"require_mfa_for_admins": [True, False]},
        {"require_mfa_for_admins": [False, True]},
    ]


async def test_turning_the_rule_on_needs_a_second_factor(client: httpx.AsyncClient, tokens: Tokens) -> None:
    alice = await tokens.headers("alice")  # the password grant: amr is ["pwd"]
    org = await create_org(client, alice, "No lockout")
    response = await client.put(
        f"/api/v1/orgs/{org['id']}/security", json={"require_mfa_for_admins": True}, headers=alice
    )
    assert response.status_code == 409
    problem = _problem(response)
    assert problem["enroll"]["required_action"] == "CONFIGURE_TOTP"
    assert (await client.get(f"/api/v1/orgs/{org['id']}", headers=alice)).json()["require_mfa_for_admins"] is False
