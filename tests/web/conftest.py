"""The web app in a real browser: the API served by uvicorn over HTTP (Keycloak redirects the browser
back to it), headless Chromium from Debian's package driven by Playwright (no browser downloads)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
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


class ThreadDns:
    """A tiny DNS server on 127.0.0.1 in a thread, answering TXT questions from ``records`` (name ->
    values; every other name does not exist): the web app's domain verification asks it through
    ``WORKTIME_SSO_DNS_NAMESERVER``, so browser tests can verify their own email domains."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        import dns.message
        import dns.rcode
        import dns.rdataclass
        import dns.rdatatype
        import dns.rrset

        while self.running:
            try:
                data, addr = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            question = query.question[0]
            values = self.records.get(question.name.to_text(omit_final_dot=True).lower())
            if values is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.TXT:
                quoted = [f'"{value}"' for value in values]
                response.answer.append(
                    dns.rrset.from_text(question.name, 60, dns.rdataclass.IN, dns.rdatatype.TXT, *quoted)
                )
            self.sock.sendto(response.to_wire(), addr)

    def close(self) -> None:
        self.running = False
        self.thread.join(2)
        self.sock.close()


@pytest.fixture(scope="session")
def web_dns() -> Iterator[ThreadDns]:
    server = ThreadDns()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def web_url(migrated: dict[str, str], web_dns: ThreadDns, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The platform (API and web app) in a uvicorn subprocess on a free loopback port; the dev realm's
    BFF client accepts loopback redirect URIs on any port. Its DNS TXT checks ask ``web_dns``."""
    port = _free_port()
    env = {
        **os.environ,
        **migrated,
        "WORKTIME_ENV": "test",
        "WORKTIME_LOG_LEVEL": "WARNING",
        "WORKTIME_SSO_DNS_NAMESERVER": f"127.0.0.1:{web_dns.port}",
    }
    log = (tmp_path_factory.mktemp("web") / "uvicorn.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "backend", "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # a busy 2-core machine takes its time to import the app
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


SIGN_IN_OR_KEYCLOAK = "#signin-form, #kc-form-login"


def submit_email_first(page: Any, who: str) -> None:
    """The app's own sign-in page: the email address (or a username) first, for home-realm discovery."""
    page.wait_for_selector("#signin-form")
    page.fill("#signin-email", who)
    page.click("#signin-continue")


def submit_keycloak_login(page: Any, username: str, password: str) -> None:
    """From the app's email-first page (when the browser is on it) to Keycloak's identity-first form
    (the realm has Organizations on: the email first, then the password form), signed in."""
    page.wait_for_selector(SIGN_IN_OR_KEYCLOAK)
    if page.locator("#signin-form").count():
        submit_email_first(page, username)
    page.wait_for_selector("#kc-form-login")
    # With the login_hint the app passes, Keycloak may go straight to the password, naming the account.
    if page.locator("#username").count():
        page.fill("#username", username)
    if not page.locator("#password").is_visible():
        page.click("#kc-login")
        page.wait_for_selector("#password")
    page.fill("#password", password)
    page.click("#kc-login")


def sign_in(page: Any, web_url: str, username: str, password: str, path: str = "/") -> None:
    """Go to a page, land on the app's sign-in page, on to Keycloak's own login form, sign in, come back."""
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


@pytest.fixture
def axe() -> Callable[..., None]:
    """``axe(page, "what")``: run axe-core on the page as it is now and fail on serious or critical
    violations (tests/web/a11y.py says which rules and why)."""
    from tests.web.a11y import assert_accessible

    return assert_accessible
