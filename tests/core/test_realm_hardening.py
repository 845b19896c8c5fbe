"""The realm's password policy, as Keycloak itself enforces it when a password is set."""

from __future__ import annotations

import uuid

import httpx

from tests.conftest import Keycloak


async def _set_password(keycloak: Keycloak, user_id: uuid.UUID, password: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.put(
            f"{keycloak.url}/admin/realms/{keycloak.realm}/users/{user_id}/reset-password",
            headers={"Authorization": f"Bearer {await keycloak.admin_token()}"},
            json={"type": "password", "value": password, "temporary": False},
        )


async def test_weak_and_reused_passwords_are_refused(keycloak: Keycloak) -> None:
    username = f"policy-{uuid.uuid4().hex[:8]}"
    user_id = await keycloak.create_user(username, password="Initial-pass-0001")
    refused = {
        "short1!": "invalidPasswordMinLength",
        username: "invalidPasswordNotUsername",
        f"{username}@example.test": "invalidPasswordNotEmail",
        "Initial-pass-0001": "invalidPasswordHistory",  # the one in use
        "x" * 129: "invalidPasswordMaxLength",
    }
    for password, reason in refused.items():
        response = await _set_password(keycloak, user_id, password)
        assert response.status_code == 400, (password, response.text)
        assert reason in response.text, (password, response.text)
    assert (await _set_password(keycloak, user_id, "A-longer-pass-0002")).status_code == 204
    # Signing in with it works.
    assert await keycloak.password_token(username, password="A-longer-pass-0002")
