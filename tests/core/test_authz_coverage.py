"""Every tenant route reaches an authorization decision; the generated RBAC doc matches the policy."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from backend.core import authz
from backend.core.authz.docs import render
from tests.conftest import DEMO_IDS, Tokens, api_routes, create_org

# Routes that act on the caller alone, never on an organization's data.
SELF_SERVICE = {("GET", "/api/v1/me"), ("GET", "/api/v1/orgs"), ("POST", "/api/v1/orgs")}
BODIES = {
    ("PATCH", "/api/v1/orgs/{org_id}"): {"name": "Renamed by the walk"},
    ("POST", "/api/v1/orgs/{org_id}/members/invitations"): {"email": "alice@acme.test", "role": "member"},
    ("PATCH", "/api/v1/orgs/{org_id}/members/{user_id}"): {"role": "owner"},
    ("POST", "/api/v1/orgs/{org_id}/projects"): {"name": "Walked project"},
    ("PATCH", "/api/v1/orgs/{org_id}/projects/{project_id}"): {"description": "walked"},
    ("PUT", "/api/v1/orgs/{org_id}/projects/{project_id}/members/{user_id}"): {"role": "lead"},
}


async def test_every_tenant_route_asks_the_enforcer(
    app: FastAPI, client: httpx.AsyncClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    decisions: list[str] = []
    real = authz.is_allowed

    def recording(role: str, permission: str) -> bool:
        decisions.append(permission)
        return real(role, permission)

    monkeypatch.setattr(authz, "is_allowed", recording)
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

    unchecked = []
    for method, path in api_routes(app):
        if (method, path) in SELF_SERVICE:
            continue
        decisions.clear()
        response = await client.request(method, path.format(**ids), headers=alice, json=BODIES.get((method, path)))
        assert response.status_code < 500, f"{method} {path}: {response.text}"
        if not decisions:
            unchecked.append(f"{method} {path}")
    assert unchecked == [], f"routes reached without an authorization decision: {unchecked}"


def test_rbac_doc_is_generated_from_the_current_policy() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "rbac.md"
    assert doc.read_text() == render(), "docs/rbac.md is stale: run `make docs`"


def test_roles_inherit_downwards_and_the_auditor_only_reads() -> None:
    for permission in authz.permissions():
        chains = [
            ("org:member", "org:manager"),
            ("org:manager", "org:admin"),
            ("org:admin", "org:owner"),
            ("project:viewer", "project:contributor"),
            ("project:contributor", "project:lead"),
            ("project:lead", "org:admin"),
        ]
        for lower, higher in chains:
            if authz.is_allowed(lower, permission):
                assert authz.is_allowed(higher, permission), (lower, higher, permission)
        if authz.is_allowed("org:auditor", permission):
            # Reading, and leaving the organization: nothing of the organization's data changes.
            assert permission.split(":")[1] in {"read", "list", "leave"}, permission
    granted = {p for p in authz.permissions() if authz.is_allowed("org:auditor", p)}
    assert {"audit:read", "project:read", "member:list"} <= granted


def test_unknown_role_gets_nothing() -> None:
    assert not any(authz.is_allowed(f"intruder-{uuid.uuid4().hex}", p) for p in authz.permissions())
