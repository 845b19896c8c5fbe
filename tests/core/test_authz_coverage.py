"""Every tenant route reaches an authorization decision; the generated RBAC doc matches the policy."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from backend.tenancy import guard
from backend.tenancy.docs import render
from tests.conftest import DEMO_IDS, Tokens, add_member, api_routes, create_org
from tests.routes import (
    BODIES,
    INVITEE_ROUTES,
    QUERIES,
    SELF_SERVICE,
    fill,
    prepare_exports,
    prepare_tracking,
    work_items,
)


async def test_every_tenant_route_asks_the_enforcer(
    app: FastAPI, client: httpx.AsyncClient, tokens: Tokens, owner_db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    decisions: list[str] = []
    real = guard.policy.is_allowed

    def recording(role: str, permission: str) -> bool:
        decisions.append(permission)
        return real(role, permission)

    monkeypatch.setattr(guard.policy, "is_allowed", recording)
    alice = await tokens.headers("alice")
    org = await create_org(client, alice, "Walked")
    ping = await client.post(f"/api/v1/orgs/{org['id']}/diagnostics/pings", headers=alice)
    project = await client.post(f"/api/v1/orgs/{org['id']}/projects", json={"name": "Walk"}, headers=alice)
    ids: dict[str, Any] = {
        "org_id": org["id"],
        "ping_id": ping.json()["id"],
        "project_id": project.json()["id"],
        "user_id": str(DEMO_IDS["alice"]),
    }
    ids |= await prepare_tracking(client, org["id"], ids["project_id"], alice)
    ids |= await work_items(client, alice, org["id"], ids["project_id"])
    ids |= await prepare_exports(client, org["id"], alice)

    unchecked = []
    for method, path in api_routes(app):
        if (method, path) in SELF_SERVICE:
            continue
        caller = alice
        if (method, path) in INVITEE_ROUTES:
            await add_member(owner_db, org["id"], DEMO_IDS["heidi"], "member", status="invited")
            caller = await tokens.headers("heidi")
        decisions.clear()
        response = await client.request(
            method,
            path.format(**ids),
            headers=caller,
            json=fill(BODIES.get((method, path)), ids),
            params=QUERIES.get((method, path)),
        )
        assert response.status_code < 500, f"{method} {path}: {response.text}"
        if not decisions:
            unchecked.append(f"{method} {path}")
    assert unchecked == [], f"routes reached without an authorization decision: {unchecked}"


def test_rbac_doc_is_generated_from_the_current_policy() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "rbac.md"
    assert doc.read_text() == render(), "docs/rbac.md is stale: run `make docs`"


def test_roles_inherit_downwards_and_the_auditor_only_reads() -> None:
    is_allowed = guard.policy.is_allowed
    for permission in guard.policy.permissions():
        chains = [
            ("org:member", "org:manager"),
            ("org:manager", "org:admin"),
            ("org:admin", "org:owner"),
            ("project:viewer", "project:contributor"),
            ("project:contributor", "project:lead"),
            ("project:lead", "org:admin"),
        ]
        for lower, higher in chains:
            if is_allowed(lower, permission):
                assert is_allowed(higher, permission), (lower, higher, permission)
        if is_allowed("org:auditor", permission):
            # Reading, answering their own invitation, leaving, managing their own (read-only, since a token's
            # role is capped at the auditor's) personal tokens and calendar feed, muting reminders for themselves,
            # and requesting or scheduling an export (a file of what they may read): nothing of the organization's
            # data changes.
            assert permission.split(":")[1] in {"read", "list", "leave", "accept", "decline"} or permission in {
                "personal_token:create",
                "personal_token:revoke",
                "export:create",
                "export_schedule:manage",
                "calendar_feed:manage",
                "reminder_mute:update",
            }, permission
    granted = {p for p in guard.policy.permissions() if is_allowed("org:auditor", p)}
    assert {"audit:read", "project:read", "member:list"} <= granted


def test_unknown_role_gets_nothing() -> None:
    assert not any(guard.policy.is_allowed(f"intruder-{uuid.uuid4().hex}", p) for p in guard.policy.permissions())
