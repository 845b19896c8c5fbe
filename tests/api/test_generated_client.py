"""A Python client generated from the OpenAPI document works against the running API."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.infra import ROOT


def _generate(live_api: str, tmp_path: Path) -> None:
    """Generate the client package ``wtc`` into ``tmp_path`` from the served document."""
    document = httpx.get(f"{live_api}/api/openapi.json", timeout=10).json()
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(document))
    generator = Path(sys.executable).parent / "openapi-python-client"
    result = subprocess.run(
        [str(generator), "generate", "--path", str(spec), "--meta", "none", "--output-path", str(tmp_path / "wtc")],
        cwd=ROOT,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


async def test_a_generated_client_lists_organizations_and_reads_problems(
    live_api: str, tokens: Any, tmp_path: Path, demo_orgs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = await tokens("alice")
    _generate(live_api, tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    client_module = importlib.import_module("wtc.client")
    list_orgs = importlib.import_module("wtc.api.organizations.list_my_organizations")
    read_org = importlib.import_module("wtc.api.organizations.read_organization")
    problem_model = importlib.import_module("wtc.models.problem").Problem

    client = client_module.AuthenticatedClient(base_url=live_api, token=token)
    with client:  # the generated client is synchronous
        page = list_orgs.sync(client=client)
        assert "acme" in [org.slug for org in page.items]
        # A non-member's read is a 404 problem, parsed into the Problem model.
        missing = read_org.sync(client=client, org_id=demo_orgs["globex"])
    assert isinstance(missing, problem_model)
    assert missing.status == 404 and missing.title == "Not found"
