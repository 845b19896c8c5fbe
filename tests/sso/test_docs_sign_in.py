"""Swagger UI's *Authorize* signs in email first too: the OpenAPI ``authorizationUrl`` is the platform's
``/auth/authorize``, which asks for the address, routes a verified SSO domain to its organization's
provider (``kc_idp_hint``) and hands the OAuth request on to the real Keycloak unchanged."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from tests.conftest import Keycloak

REDIRECT = "http://127.0.0.1:8000/api/docs/oauth2-redirect"


def _swagger_request() -> dict[str, str]:
    """What Swagger UI puts in the authorization URL (authorization code with PKCE)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return {
        "response_type": "code",
        "client_id": "worktime-web",
        "redirect_uri": REDIRECT,
        "scope": "openid profile email",
        "state": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }


async def _start(client: httpx.AsyncClient, params: dict[str, str], email: str) -> httpx.Response:
    page = await client.get("/auth/authorize", params=params)
    assert page.status_code == 200, page.text
    assert 'action="/auth/authorize"' in page.text and f'value="{params["state"]}"' in page.text
    return await client.post("/auth/authorize", data={**params, "email": email})


async def test_the_docs_authorize_asks_for_the_email_and_routes_an_sso_domain_to_its_provider(
    client: httpx.AsyncClient, keycloak: Keycloak, sso: dict[str, Any]
) -> None:
    spec = (await client.get("/api/openapi.json")).json()
    flow = spec["components"]["securitySchemes"]["keycloak"]["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == "/auth/authorize"

    params = _swagger_request()
    routed = await _start(client, params, f"ian@{sso['domain']}")
    assert routed.status_code == 303
    location = urlparse(routed.headers["location"])
    assert location.path.endswith("/realms/worktime/protocol/openid-connect/auth")
    forwarded = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert forwarded == {**params, "login_hint": f"ian@{sso['domain']}", "kc_idp_hint": sso["alias"]}
    # Keycloak accepts the request as Swagger UI's and sends the browser on to the organization's provider.
    async with httpx.AsyncClient(timeout=30) as browser:
        at_keycloak = await browser.get(routed.headers["location"])
        assert at_keycloak.status_code in (302, 303), at_keycloak.text[:500]
        assert f"/broker/{sso['alias']}/" in at_keycloak.headers["location"]

    # Everyone else goes to Keycloak's own form, named by their address; nothing else is added.
    plain = await _start(client, _swagger_request(), "dave@acme.test")
    forwarded = {k: v[0] for k, v in parse_qs(urlparse(plain.headers["location"]).query).items()}
    assert "kc_idp_hint" not in forwarded and forwarded["login_hint"] == "dave@acme.test"
    async with httpx.AsyncClient(timeout=30) as browser:
        form = await browser.get(plain.headers["location"])
        assert form.status_code == 200 and "kc-form-login" in form.text


async def test_the_docs_authorize_refuses_other_clients_and_says_what_is_missing(client: httpx.AsyncClient) -> None:
    other = {**_swagger_request(), "client_id": "worktime-bff"}
    refused = await client.get("/auth/authorize", params=other)
    assert refused.status_code == 400 and "not for a client" in refused.text
    assert (await client.post("/auth/authorize", data={**other, "email": "a@b.test"})).status_code == 400
    params = _swagger_request()
    empty = await client.post("/auth/authorize", data={**params, "email": " "})
    assert empty.status_code == 422 and "Type your email address" in empty.text
    bad = await client.post("/auth/authorize", data={**params, "email": "someone@"})
    assert bad.status_code == 422 and "not an email address" in bad.text
    assert f'value="{params["state"]}"' in bad.text  # the request is kept for the next try
