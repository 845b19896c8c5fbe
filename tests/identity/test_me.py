from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from backend.app import create_app
from tests.conftest import Keycloak, Tokens

ALICE_ID = uuid.UUID("7a1b0000-0000-4000-8000-000000000001")


def assert_unauthorized(response: httpx.Response, *, error: str | None = "invalid_token") -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer")
    if error:
        assert f'error="{error}"' in challenge
    body = response.json()
    assert body["status"] == 401 and body["title"]
    # Nothing about keys, signatures or claims leaks to the caller.
    assert "signature" not in response.text.lower() and "kid" not in response.text.lower()


async def test_me_with_a_real_keycloak_token(client: httpx.AsyncClient, tokens: Tokens) -> None:
    response = await client.get("/api/v1/me", headers=await tokens.headers("alice"))
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["id"] == str(ALICE_ID)
    assert me["email"] == "alice@acme.test"
    assert me["username"] == "alice"
    assert me["client_id"] == "worktime-cli"
    assert me["is_service_account"] is False


async def test_me_with_a_service_account_token(client: httpx.AsyncClient, keycloak: Keycloak) -> None:
    token = await keycloak.client_token("worktime-test-service", "worktime-test-service-secret")
    response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.json()["is_service_account"] is True
    assert response.json()["client_id"] == "worktime-test-service"


async def test_me_without_a_token(client: httpx.AsyncClient) -> None:
    assert_unauthorized(await client.get("/api/v1/me"), error=None)


@pytest.mark.parametrize(
    "authorization",
    ["Bearer garbage", "Bearer a.b.c", "Basic YWxpY2U6cHc=", "Bearer "],
)
async def test_me_with_a_malformed_token(client: httpx.AsyncClient, authorization: str) -> None:
    response = await client.get("/api/v1/me", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_me_with_a_token_for_another_audience(client: httpx.AsyncClient, keycloak: Keycloak) -> None:
    token = (await keycloak.password_token("alice", client_id="worktime-other"))["access_token"]
    assert_unauthorized(await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}))


async def test_id_and_refresh_tokens_are_not_access_tokens(client: httpx.AsyncClient, keycloak: Keycloak) -> None:
    issued = await keycloak.password_token("alice")
    for kind in ("id_token", "refresh_token"):
        response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {issued[kind]}"})
        assert_unauthorized(response)


async def test_a_tampered_token_is_rejected(client: httpx.AsyncClient, tokens: Tokens) -> None:
    header, payload, signature = (await tokens("alice")).split(".")
    forged = ".".join([header, payload, signature[:-4] + ("AAAA" if not signature.endswith("AAAA") else "BBBB")])
    assert_unauthorized(await client.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"}))


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient, tokens: Tokens) -> None:
    mine = await client.get("/api/v1/me", headers={**await tokens.headers("alice"), "X-Request-ID": "abc-123"})
    assert mine.headers["x-request-id"] == "abc-123"
    generated = await client.get("/api/v1/me", headers=await tokens.headers("alice"))
    assert len(generated.headers["x-request-id"]) == 32
    error = await client.get("/api/v1/me")
    assert error.json()["request_id"] == error.headers["x-request-id"]


async def test_user_profile_is_provisioned_and_kept_in_sync(
    client: httpx.AsyncClient, tokens: Tokens, owner_db: Any
) -> None:
    # Even the owner role writes through RLS: it acts as the user whose row it changes.
    await owner_db.execute("SELECT set_config('app.user_id', $1, false)", str(ALICE_ID))
    await owner_db.execute("UPDATE users SET display_name = 'Stale Name' WHERE id = $1", ALICE_ID)
    await client.get("/api/v1/me", headers=await tokens.headers("alice"))
    name = await owner_db.fetchval("SELECT display_name FROM users WHERE id = $1", ALICE_ID)
    assert name == "Alice Owner"


async def test_a_user_disabled_on_the_platform_is_refused(
    client: httpx.AsyncClient, tokens: Tokens, owner_db: Any
) -> None:
    heidi = uuid.UUID("7a1b0000-0000-4000-8000-000000000007")
    headers = await tokens.headers("heidi")
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    await owner_db.execute("SELECT set_config('app.user_id', $1, false)", str(heidi))
    await owner_db.execute("UPDATE users SET disabled_at = now() WHERE id = $1", heidi)
    try:
        response = await client.get("/api/v1/me", headers=headers)
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
    finally:
        await owner_db.execute("UPDATE users SET disabled_at = NULL WHERE id = $1", heidi)


async def test_the_docs_page_origin_may_exchange_codes_at_keycloak(keycloak: Keycloak) -> None:
    """Swagger UI (served by the API on :8000) trades its authorization code from the browser, so
    Keycloak must accept that origin for the public client; a refused origin answers 403."""
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            keycloak.token_url,
            data={
                "grant_type": "authorization_code",
                "client_id": "worktime-web",
                "code": "not-a-real-code",
                "redirect_uri": "http://127.0.0.1:8000/api/docs/oauth2-redirect",
                "code_verifier": "x" * 43,
            },
            headers={"Origin": "http://127.0.0.1:8000"},
        )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_grant"
    assert response.headers.get("access-control-allow-origin") == "http://127.0.0.1:8000"


async def test_an_expired_keycloak_token_is_refused(settings: Any, keycloak: Keycloak) -> None:
    """A real token from a client whose tokens live four seconds, presented after it expired."""
    client_id = f"short-lived-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(timeout=30) as http:
        created = await http.post(
            f"{keycloak.url}/admin/realms/{keycloak.realm}/clients",
            headers={"Authorization": f"Bearer {await keycloak.admin_token()}"},
            json={
                "clientId": client_id,
                "publicClient": True,
                "directAccessGrantsEnabled": True,
                "standardFlowEnabled": False,
                "attributes": {"access.token.lifespan": "4"},
                "protocolMappers": [
                    {
                        "name": "audience",
                        "protocol": "openid-connect",
                        "protocolMapper": "oidc-audience-mapper",
                        "config": {"included.client.audience": "worktime-api", "access.token.claim": "true"},
                    }
                ],
            },
        )
    assert created.status_code == 201, created.text
    token = (await keycloak.password_token("alice", client_id=client_id))["access_token"]
    strict = settings.model_copy(
        update={"jwt_leeway_seconds": 0, "keycloak_allowed_clients": [*settings.keycloak_allowed_clients, client_id]}
    )
    app = create_app(strict)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        headers = {"Authorization": f"Bearer {token}"}
        assert (await http.get("/api/v1/me", headers=headers)).status_code == 200
        await asyncio.sleep(5)
        response = await http.get("/api/v1/me", headers=headers)
    assert_unauthorized(response)
    assert "expired" in response.json()["detail"]
