"""The web app in a real browser: the API served by uvicorn over HTTP (Keycloak redirects the browser
back to it), headless Chromium from Debian's package driven by Playwright (no browser downloads)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.infra import ROOT, start_worker, stop_worker

CHROMIUM = os.environ.get("WORKTIME_CHROMIUM", "/usr/bin/chromium")
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def web_url(migrated: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The platform (API and web app) in a uvicorn subprocess on a free loopback port; the dev realm's
    BFF client accepts loopback redirect URIs on any port."""
    port = _free_port()
    env = {**os.environ, **migrated, "WORKTIME_ENV": "test", "WORKTIME_LOG_LEVEL": "WARNING"}
    log = (tmp_path_factory.mktemp("web") / "uvicorn.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "backend", "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError(f"uvicorn did not start; see {log.name}")
        yield url
    finally:
        process.terminate()
        process.wait(20)
        log.close()


# Module scope, not session: while the sync API is running, its event loop counts as the thread's
# running loop, which would break every asyncio test that runs after these.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `python3 deploy/localstack.py up` apt-installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Fresh browser contexts (own cookies) per person; closed after the test."""
    contexts: list[Any] = []

    def make(**options: Any) -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 860}, **options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def submit_keycloak_login(page: Any, username: str, password: str) -> None:
    """Keycloak's identity-first form (the realm has Organizations on): the email first, so a verified
    SSO domain can be sent to its provider, then the password form for everyone else."""
    page.wait_for_selector("#kc-form-login")
    page.fill("#username", username)
    if not page.locator("#password").is_visible():
        page.click("#kc-login")
        page.wait_for_selector("#password")
    page.fill("#password", password)
    page.click("#kc-login")


def sign_in(page: Any, web_url: str, username: str, password: str, path: str = "/") -> None:
    """Go to a page, land on Keycloak's own login form, sign in, come back."""
    page.goto(f"{web_url}{path}")
    submit_keycloak_login(page, username, password)
    page.wait_for_url(f"{web_url}/**")
    page.wait_for_selector("body[data-ready]")


@pytest.fixture(scope="module")
def web_worker(migrated: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """A real worker (``backend worker``) making the exports the pages request; each written chunk is
    slowed down a little so the progress bar has something to show."""
    process = start_worker({**migrated, "WORKTIME_EXPORT_TEST_DELAY_MS": "150"})
    try:
        yield process
    finally:
        stop_worker(process)
