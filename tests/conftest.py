from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.infra import ROOT, provide_stack

ACME = "acme"
GLOBEX = "globex"
DEMO_USERS = ["alice", "bob", "carol", "dave", "erin", "grace", "heidi"]
DEMO_IDS = {name: uuid.UUID(f"7a1b0000-0000-4000-8000-0000000000{n:02d}") for n, name in enumerate(DEMO_USERS, 1)}


@pytest.fixture(scope="session")
def stack() -> Iterator[dict[str, str]]:
    with provide_stack() as env:
        yield env


def run_cli(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "backend", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"backend {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def migrated(stack: dict[str, str]) -> dict[str, str]:
    run_cli("migrate")
    run_cli("seed")
    return stack


@pytest.fixture(scope="session")
def settings(migrated: dict[str, str]) -> Any:
    from backend.settings import Settings

    # Tests rotate realm keys; let the verifier refetch on an unknown kid without a long cooldown.
    return Settings(env="test", jwks_unknown_kid_cooldown_seconds=0.2)


@pytest.fixture(scope="session")
async def app(settings: Any) -> AsyncIterator[FastAPI]:
    from backend.app import create_app

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        yield http


@dataclass
class Keycloak:
    url: str
    realm: str
    demo_password: str
    admin_user: str
    admin_password: str

    @property
    def token_url(self) -> str:
        return f"{self.url}/realms/{self.realm}/protocol/openid-connect/token"

    async def password_token(
        self, username: str, *, client_id: str = "worktime-cli", password: str | None = None
    ) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(
                self.token_url,
                data={
                    "grant_type": "password",
                    "client_id": client_id,
                    "username": username,
                    "password": password or self.demo_password,
                    "scope": "openid",
                },
            )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def client_token(self, client_id: str, secret: str) -> str:
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(
                self.token_url,
                data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
            )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    async def create_user(self, username: str, password: str = "Pa55-word-for-tests") -> uuid.UUID:
        """A ready-to-use account (verified email, permanent password) made through the admin API."""
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(
                f"{self.url}/admin/realms/{self.realm}/users",
                headers={"Authorization": f"Bearer {await self.admin_token()}"},
                json={
                    "username": username,
                    "email": f"{username}@example.test",
                    "firstName": username.capitalize(),
                    "lastName": "Tester",
                    "emailVerified": True,
                    "enabled": True,
                    "credentials": [{"type": "password", "value": password, "temporary": False}],
                },
            )
        assert response.status_code == 201, response.text
        return uuid.UUID(response.headers["location"].rsplit("/", 1)[1])

    async def admin_token(self) -> str:
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(
                f"{self.url}/realms/master/protocol/openid-connect/token",
                data={
                    "grant_type": "password",
                    "client_id": "admin-cli",
                    "username": self.admin_user,
                    "password": self.admin_password,
                },
            )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


@pytest.fixture(scope="session")
def keycloak(stack: dict[str, str]) -> Keycloak:
    return Keycloak(
        url=stack["WORKTIME_KEYCLOAK_URL"],
        realm=stack.get("WORKTIME_KEYCLOAK_REALM", "worktime"),
        demo_password=stack.get("DEMO_PASSWORD", "worktime-demo"),
        admin_user=stack.get("KEYCLOAK_ADMIN_USER", "admin"),
        admin_password=stack.get("KEYCLOAK_ADMIN_PASSWORD", "admin"),
    )


class Tokens:
    """Access tokens of demo (and test-made) users, fetched from the real Keycloak and reused."""

    def __init__(self, keycloak: Keycloak) -> None:
        self._keycloak = keycloak
        self.passwords: dict[str, str] = {}
        self._cache: dict[str, tuple[str, float]] = {}

    async def __call__(self, username: str) -> str:
        token, expires_at = self._cache.get(username, ("", 0.0))
        if time.monotonic() > expires_at - 60:  # access tokens live 5 minutes; the suite may run longer
            issued = await self._keycloak.password_token(username, password=self.passwords.get(username))
            token, expires_at = issued["access_token"], time.monotonic() + issued["expires_in"]
            self._cache[username] = (token, expires_at)
        return token

    def forget(self) -> None:
        self._cache.clear()

    async def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self(username)}"}


@pytest.fixture(scope="session")
def tokens(keycloak: Keycloak) -> Tokens:
    return Tokens(keycloak)


@pytest.fixture(scope="session")
def demo_orgs() -> dict[str, uuid.UUID]:
    from backend.seed import demo_org_id

    return {ACME: demo_org_id(ACME), GLOBEX: demo_org_id(GLOBEX)}


def unique_slug(prefix: str = "org") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def plain_dsn(url: str) -> str:
    """asyncpg wants ``postgresql://``; our settings carry SQLAlchemy's ``postgresql+asyncpg://``."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@pytest.fixture
async def owner_db(migrated: dict[str, str]) -> AsyncIterator[Any]:
    import asyncpg

    connection = await asyncpg.connect(plain_dsn(migrated["WORKTIME_DATABASE_OWNER_URL"]))
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def runtime_db(migrated: dict[str, str]) -> AsyncIterator[Any]:
    import asyncpg

    connection = await asyncpg.connect(plain_dsn(migrated["WORKTIME_DATABASE_URL"]))
    try:
        yield connection
    finally:
        await connection.close()


async def create_org(client: httpx.AsyncClient, headers: dict[str, str], name: str = "Test Org") -> dict[str, Any]:
    response = await client.post("/api/v1/orgs", json={"name": name, "slug": unique_slug()}, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (METHOD, path template) the API serves, as its OpenAPI document lists them."""
    return [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/api/v1")
        for method in operations
    ]


async def add_member(
    owner_db: Any, org_id: Any, user_id: Any, role: str, *, display_name: str | None = None, status: str = "active"
) -> None:
    """Test set-up: put a user straight into an organization (the owner role writes inside the tenant)."""
    await owner_db.execute("SELECT set_config('app.org_id', $1, false)", str(org_id))
    await owner_db.execute("SELECT set_config('app.user_id', $1, false)", str(user_id))
    await owner_db.execute(
        "INSERT INTO users (id, display_name) VALUES ($1, $2) ON CONFLICT DO NOTHING", user_id, display_name
    )
    await owner_db.execute(
        "INSERT INTO memberships (org_id, user_id, role, status) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (org_id, user_id) DO UPDATE SET role = EXCLUDED.role, status = EXCLUDED.status",
        uuid.UUID(str(org_id)),
        user_id,
        role,
        status,
    )
