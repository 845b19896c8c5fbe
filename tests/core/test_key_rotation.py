"""Signing-key rotation in the real Keycloak, picked up by a running API without a restart."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import jwt

from backend.app import create_app
from tests.conftest import Keycloak, Tokens


async def _admin(keycloak: Keycloak) -> httpx.AsyncClient:
    token = await keycloak.admin_token()
    return httpx.AsyncClient(
        base_url=f"{keycloak.url}/admin/realms/{keycloak.realm}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


async def _active_rs256(admin: httpx.AsyncClient) -> list[dict[str, Any]]:
    keys = (await admin.get("/keys")).json()["keys"]
    return [k for k in keys if k.get("algorithm") == "RS256" and k.get("status") == "ACTIVE"]


async def test_rotation_new_key_accepted_old_key_valid_until_removed(
    settings: Any, keycloak: Keycloak, tokens: Tokens
) -> None:
    fast_refresh = settings.model_copy(update={"jwks_cache_seconds": 1, "jwks_unknown_kid_cooldown_seconds": 0.2})
    app = create_app(fast_refresh)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
        await _admin(keycloak) as admin,
    ):
        old_token = (await keycloak.password_token("carol"))["access_token"]
        old_kid = jwt.get_unverified_header(old_token)["kid"]
        assert (await http.get("/api/v1/me", headers={"Authorization": f"Bearer {old_token}"})).status_code == 200
        old_provider = next(k["providerId"] for k in await _active_rs256(admin) if k["kid"] == old_kid)

        realm_id = (await admin.get("")).json()["id"]
        created = await admin.post(
            "/components",
            json={
                "name": f"rotated-{uuid.uuid4().hex[:6]}",
                "providerId": "rsa-generated",
                "providerType": "org.keycloak.keys.KeyProvider",
                "parentId": realm_id,
                "config": {
                    "priority": ["1000"],
                    "keySize": ["2048"],
                    "active": ["true"],
                    "enabled": ["true"],
                    "algorithm": ["RS256"],
                },
            },
        )
        assert created.status_code == 201, created.text

        new_token = (await keycloak.password_token("carol"))["access_token"]
        assert jwt.get_unverified_header(new_token)["kid"] != old_kid
        await asyncio.sleep(0.3)  # past the unknown-kid cooldown of this app
        me = await http.get("/api/v1/me", headers={"Authorization": f"Bearer {new_token}"})
        assert me.status_code == 200, me.text
        # The old key is still published, so tokens it signed keep working until they expire...
        assert (await http.get("/api/v1/me", headers={"Authorization": f"Bearer {old_token}"})).status_code == 200

        # ...or until the key is removed from the realm.
        assert (await admin.delete(f"/components/{old_provider}")).status_code == 204
        await asyncio.sleep(1.2)  # the cached key set ages out
        gone = await http.get("/api/v1/me", headers={"Authorization": f"Bearer {old_token}"})
        assert gone.status_code == 401
        assert (await http.get("/api/v1/me", headers={"Authorization": f"Bearer {new_token}"})).status_code == 200
    tokens.forget()  # cached demo tokens were signed by the removed key


async def test_keycloak_unreachable_cached_keys_keep_working(settings: Any, tokens: Tokens) -> None:
    app = create_app(settings.model_copy(update={"jwks_cache_seconds": 0}))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        headers = await tokens.headers("dave")
        assert (await http.get("/api/v1/me", headers=headers)).status_code == 200
        # Keycloak goes away (the JWKS address stops answering); the cache is stale on every call.
        app.state.jwks.url = "http://127.0.0.1:9/realms/worktime/protocol/openid-connect/certs"
        app.state.jwks._attempted_at = float("-inf")
        assert (await http.get("/api/v1/me", headers=headers)).status_code == 200
        # Readiness: degraded, not unready (the cached keys still verify tokens).
        ready = await http.get("/health/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "degraded"
        assert ready.json()["degraded"] == ["keycloak"]
