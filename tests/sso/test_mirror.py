"""Every platform organization has a Keycloak organization, kept in step with it; drift is repaired by
``python -m backend sso reconcile``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.conftest import DEMO_IDS, add_member, create_org, run_cli, unique_slug
from tests.sso.conftest import KeycloakOrgs, Worker


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "Keycloak did not follow in time"
        await asyncio.sleep(0.3)


async def test_founding_an_organization_creates_its_keycloak_copy_with_the_founder(
    client: httpx.AsyncClient, tokens: Any, kc_orgs: KeycloakOrgs
) -> None:
    org = await create_org(client, await tokens.headers("alice"), name="Mirror Works")
    copy = await kc_orgs.by_alias(org["id"])
    assert copy is not None
    assert copy["name"] == org["slug"]
    assert copy["description"] == "Mirror Works"
    assert copy["enabled"] is True
    assert await kc_orgs.members(copy["id"]) == {str(DEMO_IDS["alice"])}


async def test_a_slug_taken_in_keycloak_by_a_live_organization_is_refused_and_nothing_is_left(
    client: httpx.AsyncClient, tokens: Any, kc_orgs: KeycloakOrgs
) -> None:
    headers = await tokens.headers("alice")
    first = await create_org(client, headers)
    response = await client.post("/api/v1/orgs", json={"name": "Again", "slug": first["slug"]}, headers=headers)
    assert response.status_code == 409, response.text
    assert response.json()["field"] == "slug"
    copy = await kc_orgs.by_alias(first["id"])
    assert copy is not None and copy["description"] == "Test Org"  # the live copy is untouched


async def test_a_stale_keycloak_copy_holding_the_slug_is_replaced(
    client: httpx.AsyncClient, tokens: Any, kc_orgs: KeycloakOrgs
) -> None:
    slug = unique_slug()
    ghost = str(uuid.uuid4())  # an organization from a database that no longer exists
    await kc_orgs.create({"name": slug, "alias": ghost, "attributes": {"worktime_org_id": [ghost]}})
    response = await client.post(
        "/api/v1/orgs", json={"name": "Reborn", "slug": slug}, headers=await tokens.headers("bob")
    )
    assert response.status_code == 201, response.text
    assert await kc_orgs.by_alias(ghost) is None
    copy = await kc_orgs.by_alias(response.json()["id"])
    assert copy is not None and copy["name"] == slug


async def test_rename_archive_and_membership_changes_reach_keycloak_through_the_worker(
    client: httpx.AsyncClient, tokens: Any, kc_orgs: KeycloakOrgs, owner_db: Any, start_worker: Worker
) -> None:
    start_worker()
    headers = await tokens.headers("alice")
    org = await create_org(client, headers)
    copy = await kc_orgs.by_alias(org["id"])
    assert copy is not None
    kc_id = copy["id"]

    new_slug = unique_slug("renamed")
    response = await client.patch(
        f"/api/v1/orgs/{org['id']}", json={"name": "Renamed Inc.", "slug": new_slug}, headers=headers
    )
    assert response.status_code == 200, response.text

    async def renamed() -> bool:
        current = await kc_orgs.by_alias(org["id"])
        return current is not None and current["name"] == new_slug and current["description"] == "Renamed Inc."

    await eventually(renamed)

    # dave joins (an accepted invitation), then is removed: Keycloak's member list follows.
    await add_member(owner_db, org["id"], DEMO_IDS["dave"], "member", status="invited")
    accepted = await client.post(f"/api/v1/orgs/{org['id']}/invitations/accept", headers=await tokens.headers("dave"))
    assert accepted.status_code == 200, accepted.text

    async def dave_in() -> bool:
        return str(DEMO_IDS["dave"]) in await kc_orgs.members(kc_id)

    await eventually(dave_in)
    removed = await client.delete(f"/api/v1/orgs/{org['id']}/members/{DEMO_IDS['dave']}", headers=headers)
    assert removed.status_code == 204, removed.text

    async def dave_out() -> bool:
        return str(DEMO_IDS["dave"]) not in await kc_orgs.members(kc_id)

    await eventually(dave_out)

    archived = await client.post(f"/api/v1/orgs/{org['id']}/archive", headers=headers)
    assert archived.status_code == 200, archived.text

    async def disabled() -> bool:
        current = await kc_orgs.by_alias(org["id"])
        return current is not None and current["enabled"] is False

    await eventually(disabled)


async def test_reconcile_repairs_drift_and_says_what_it_changed(
    client: httpx.AsyncClient, tokens: Any, kc_orgs: KeycloakOrgs
) -> None:
    headers = await tokens.headers("alice")
    lost, renamed = await create_org(client, headers), await create_org(client, headers, name="Right Name")
    lost_copy, renamed_copy = await kc_orgs.by_alias(lost["id"]), await kc_orgs.by_alias(renamed["id"])
    assert lost_copy is not None and renamed_copy is not None
    await kc_orgs.delete(lost_copy["id"])
    await kc_orgs.update(renamed_copy["id"], {**renamed_copy, "description": "Wrong Name"})
    await kc_orgs.remove_member(renamed_copy["id"], str(DEMO_IDS["alice"]))
    ghost = str(uuid.uuid4())
    await kc_orgs.create({"name": unique_slug("ghost"), "alias": ghost, "attributes": {"worktime_org_id": [ghost]}})

    dry = run_cli("sso", "reconcile", "--dry-run").stdout
    assert f"would: created organization {lost['slug']} ({lost['id']})" in dry
    assert await kc_orgs.by_alias(lost["id"]) is None  # a dry run changes nothing

    report = run_cli("sso", "reconcile").stdout
    assert f"created organization {lost['slug']} ({lost['id']})" in report
    assert f"updated organization {renamed['slug']} ({renamed['id']})" in report
    assert f"added member {DEMO_IDS['alice']} to {renamed['slug']}" in report
    assert f"({ghost})" in report and "removed stale organization" in report

    fixed = await kc_orgs.by_alias(renamed["id"])
    assert fixed is not None and fixed["description"] == "Right Name"
    assert str(DEMO_IDS["alice"]) in await kc_orgs.members(fixed["id"])
    recreated = await kc_orgs.by_alias(lost["id"])
    assert recreated is not None and await kc_orgs.members(recreated["id"]) == {str(DEMO_IDS["alice"])}
    assert await kc_orgs.by_alias(ghost) is None

    again = run_cli("sso", "reconcile").stdout
    assert lost["id"] not in again and renamed["id"] not in again


async def test_reconcile_puts_back_the_verified_domains_and_leaves_unverified_ones_out(
    client: httpx.AsyncClient, tokens: Any, kc_orgs: KeycloakOrgs, owner_db: Any
) -> None:
    headers = await tokens.headers("alice")
    org = await create_org(client, headers)
    verified, claimed = f"{unique_slug('v')}.test", f"{unique_slug('c')}.test"
    await owner_db.execute("SELECT set_config('app.org_id', $1, false)", org["id"])
    await owner_db.execute(
        "INSERT INTO sso_domains (org_id, domain, verification_token, verified_at) VALUES"
        " ($1::uuid, $2, 'token-a', now()), ($1::uuid, $3, 'token-b', NULL)",
        org["id"],
        verified,
        claimed,
    )
    copy = await kc_orgs.by_alias(org["id"])
    assert copy is not None and not copy.get("domains")  # written behind the API's back: Keycloak lags

    report = run_cli("sso", "reconcile").stdout
    assert f"fixed domains of {org['slug']} ({org['id']}): +{verified}" in report
    fixed = await kc_orgs.by_alias(org["id"])
    assert fixed is not None
    assert [(d["name"], d["verified"]) for d in fixed["domains"]] == [(verified, True)]

    # A domain removed in Keycloak by hand comes back; then nothing is left to do.
    await kc_orgs.update(fixed["id"], {**fixed, "domains": []})
    assert f"+{verified}" in run_cli("sso", "reconcile").stdout
    assert org["id"] not in run_cli("sso", "reconcile").stdout
