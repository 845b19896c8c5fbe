"""The API docs work offline: Swagger UI comes from the platform itself, and a real browser renders it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.infra import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


async def test_the_docs_page_loads_nothing_from_elsewhere(client: httpx.AsyncClient) -> None:
    page = await client.get("/api/docs")
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls and all(url.startswith("/api/docs/static/") for url in urls), urls
    for url in urls:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert b"sourceMappingURL" not in asset.content[-300:]
    csp = page.headers["content-security-policy"]
    assert "https:" not in csp.replace(_keycloak_origin(csp), "")
    assert "script-src 'self' 'sha256-" in csp


def _keycloak_origin(csp: str) -> str:
    connect = next(part for part in csp.split(";") if part.strip().startswith("connect-src"))
    return connect.split()[-1]


def _ensure_chromium() -> None:
    if shutil.which("chromium"):
        return
    subprocess.run([sys.executable, "deploy/localstack.py", "install", "chromium"], cwd=ROOT, check=False)
    if not shutil.which("chromium"):
        pytest.skip("chromium is not installed (python3 deploy/localstack.py install chromium)")


async def test_a_browser_renders_the_docs_with_every_other_host_blocked(live_api: str) -> None:
    _ensure_chromium()
    from playwright.async_api import Route, async_playwright

    blocked: list[str] = []
    page_errors: list[str] = []

    async def only_loopback(route: Route) -> None:
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context()
            await context.route("**/*", only_loopback)
            page = await context.new_page()
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            await page.goto(f"{live_api}/api/docs")
            await page.wait_for_selector(".opblock", timeout=30_000)
            # Swagger UI renders the first tags at once and the rest as they scroll into view (seen past
            # ~130 operations), so the rendered count says little: ask it how many it loaded.
            assert await page.locator(".opblock").count() > 0
            operations = await page.evaluate("ui.specSelectors.operations().size")
            title = await page.locator(".info .title").inner_text()
            authorize = await page.locator("button.authorize").count()
            redirect = await context.new_page()
            response: Any = await redirect.goto(f"{live_api}/api/docs/oauth2-redirect")
            assert response.status == 200
        finally:
            await browser.close()
    assert operations > 20
    assert "Worktime API" in title
    assert authorize == 1  # the OAuth2 (PKCE) login button
    assert blocked == []  # the page needed nothing from outside
    assert page_errors == []
