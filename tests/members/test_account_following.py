"""A person disabled or deleted in Keycloak is refused here within seconds, on every credential (their
Keycloak access tokens, their web sessions and their personal API tokens), and re-enabling them restores
access. The worker that notices ends the Keycloak sessions through the back-channel revocation, which
reaches every API process (here: the test's app, a process apart from the worker). Real Keycloak, real
worker, real Redis."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from tests.conftest import Keycloak, create_org
from tests.infra import start_worker, stop_worker
from tests.members.conftest import RealmAdmin, new_email


@pytest.fixture
def following_worker(migrated: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = start_worker({**migrated, "WORKTIME_ACCOUNTS_FOLLOW_INTERVAL_SECONDS": "1"})
    yield process
    stop_worker(process)


async def _set_enabled(realm_admin: RealmAdmin, user_id: str, enabled: bool) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.put(
            f"{realm_admin.base}/users/{user_id}", json={"enabled": enabled}, headers=await realm_admin._headers()
        )
    assert response.status_code == 204, response.text


async def _eventually(check: Callable[[], Any], what: str, seconds: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"{what} did not happen within {seconds:.0f} s")
        await asyncio.sleep(0.25)


async def test_disabling_in_keycloak_refuses_every_credential_and_enabling_restores_them(
    client: httpx.AsyncClient,
    keycloak: Keycloak,
    realm_admin: RealmAdmin,
    migrated: dict[str, str],
    settings: Any,
    following_worker: Any,
) -> None:
    email, password = new_email("leaver"), f"Pw-{uuid.uuid4().hex}"
    user_id = await realm_admin.create_user(email, password)
    issued = await keycloak.password_token(email, password=password)
    session = {"Authorization": f"Bearer {issued['access_token']}"}
    org = f"/api/v1/orgs/{(await create_org(client, session, 'Leavers Ltd'))['id']}"
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    pat = await client.post(f"{org}/personal-tokens", json={"name": "script", "expires_at": expires}, headers=session)
    assert pat.status_code == 201, pat.text
    script = {"Authorization": f"Bearer {pat.json()['token']}"}

    redis = Redis.from_url(migrated["WORKTIME_REDIS_URL"])
    try:  # the follower has started (its first run only places its cursor)
        await _eventually(lambda: redis.exists("worktime:accounts:events_cursor"), "the follower's first run")
    finally:
        await redis.aclose()

    async def works(headers: dict[str, str]) -> bool:
        return (await client.get(org, headers=headers)).status_code == 200

    assert await works(session) and await works(script)

    from backend.core.websession import SessionStore

    async def refused() -> bool:
        return not await works(script) and not await works(session)

    store_redis = Redis.from_url(migrated["WORKTIME_REDIS_URL"])
    try:
        async with httpx.AsyncClient() as http:
            store = SessionStore(settings, store_redis, http, verifier=None)  # type: ignore[arg-type]
            web_session_id, _ = await store.create(issued, sub=user_id)  # as the web app's sign-in stores it
            assert await store.load(web_session_id) is not None

            await _set_enabled(realm_admin, user_id, False)

            await _eventually(refused, "refusing the disabled person")
            answer = await client.get(org, headers=script)
            assert answer.status_code == 401, answer.text
            assert answer.headers["content-type"].startswith("application/problem+json")
            # The Keycloak session is revoked on this API process too (published by the worker, a process
            # apart), and the web app's cookie session of that person is gone.
            await _eventually(lambda: _revoked(client, session), "revoking the disabled person's Keycloak session")
            assert await store.load(web_session_id) is None
    finally:
        await store_redis.aclose()

    await _set_enabled(realm_admin, user_id, True)

    async def restored() -> bool:
        return await works(script)

    await _eventually(restored, "restoring the re-enabled person's personal token")
    fresh = await keycloak.password_token(email, password=password)  # signing in again works
    assert await works({"Authorization": f"Bearer {fresh['access_token']}"})
    assert not await works(session)  # the session alive when they were disabled stays ended

    async with httpx.AsyncClient(timeout=30) as http:
        deleted = await http.delete(f"{realm_admin.base}/users/{user_id}", headers=await realm_admin._headers())
    assert deleted.status_code == 204, deleted.text
    await _eventually(lambda: _refused_script(client, org, script), "refusing the deleted person's token")


async def _revoked(client: httpx.AsyncClient, headers: dict[str, str]) -> bool:
    answer = await client.get("/api/v1/me", headers=headers)
    return answer.status_code == 401 and "ended" in answer.json()["detail"]


async def _refused_script(client: httpx.AsyncClient, org: str, script: dict[str, str]) -> bool:
    return (await client.get(org, headers=script)).status_code in (401, 403)


async def test_the_reconcile_repairs_what_the_events_missed(
    client: httpx.AsyncClient, keycloak: Keycloak, realm_admin: RealmAdmin, settings: Any, owner_db: Any
) -> None:
    """Drift both ways: an account disabled here but enabled in Keycloak, and one disabled in Keycloak
    while nothing here followed it."""
    from backend.core.db import Database
    from backend.members import accounts
    from backend.members.keycloak import IdentityProvider

    people = []
    for name in ("drift-a", "drift-b"):
        email, password = new_email(name), f"Pw-{uuid.uuid4().hex}"
        user_id = await realm_admin.create_user(email, password)
        issued = await keycloak.password_token(email, password=password)
        me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {issued['access_token']}"})
        assert me.status_code == 200, me.text  # known here now
        people.append(uuid.UUID(user_id))
    kept_enabled, disabled_there = people
    await owner_db.execute("UPDATE users SET disabled_at = now() WHERE id = $1", kept_enabled)
    await _set_enabled(realm_admin, str(disabled_there), False)

    db = Database(settings)
    try:
        changes = await accounts.reconcile(db, IdentityProvider(settings))
        again = await accounts.reconcile(db, IdentityProvider(settings))
    finally:
        await db.dispose()
    assert kept_enabled in changes.enabled and disabled_there in changes.disabled
    assert not again.enabled and not again.disabled  # nothing left to repair
    rows = await owner_db.fetch("SELECT id, disabled_at IS NOT NULL AS disabled FROM users WHERE id = ANY($1)", people)
    assert {row["id"]: row["disabled"] for row in rows} == {kept_enabled: False, disabled_there: True}
