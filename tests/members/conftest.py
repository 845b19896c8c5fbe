"""Invitations send real email: the platform's own (a worker process delivering ``send_mail`` jobs to
the sink) and Keycloak's set-your-password email (the realm's SMTP pointed at the same sink)."""

from __future__ import annotations

import contextlib
import html
import re
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from tests.conftest import Keycloak
from tests.infra import start_worker, stop_worker
from tests.smtp_sink import Received, SmtpSink

SENDER = "noreply@worktime.test"


class RealmAdmin:
    """The few admin REST calls the tests make as Keycloak's master admin (not as the backend)."""

    def __init__(self, keycloak: Keycloak) -> None:
        self.keycloak = keycloak
        self.base = f"{keycloak.url}/admin/realms/{keycloak.realm}"

    async def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.keycloak.admin_token()}"}

    async def smtp_server(self) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.get(self.base, headers=await self._headers())
        assert response.status_code == 200, response.text
        return dict(response.json().get("smtpServer") or {})

    async def set_smtp_server(self, smtp: dict[str, Any]) -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.put(self.base, json={"smtpServer": smtp}, headers=await self._headers())
        assert response.status_code == 204, response.text

    async def users_by_email(self, email: str) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.get(
                f"{self.base}/users", params={"email": email, "exact": "true"}, headers=await self._headers()
            )
        assert response.status_code == 200, response.text
        return list(response.json())

    async def create_user(self, email: str, password: str, *, username: str | None = None) -> str:
        """An account that exists before anyone invites it: verified, with a password, nothing to do."""
        account = {
            "username": username or email,
            "email": email,
            "firstName": "Already",
            "lastName": "There",
            "enabled": True,
            "emailVerified": True,
            "credentials": [{"type": "password", "value": password, "temporary": False}],
        }
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(f"{self.base}/users", json=account, headers=await self._headers())
        assert response.status_code == 201, response.text
        return response.headers["location"].rstrip("/").rsplit("/", 1)[-1]

    async def user_exists(self, user_id: str) -> bool:
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.get(f"{self.base}/users/{user_id}", headers=await self._headers())
        assert response.status_code in (200, 404), response.text
        return response.status_code == 200

    @contextlib.asynccontextmanager
    async def smtp_pointing_at(self, host: str, port: int) -> AsyncIterator[None]:
        """Temporarily send the realm's mail to ``host:port``; the previous setting comes back after."""
        previous = await self.smtp_server()
        await self.set_smtp_server({"host": host, "port": str(port), "from": SENDER, "fromDisplayName": "Worktime"})
        try:
            yield
        finally:
            await self.set_smtp_server(previous)


@pytest.fixture(scope="session")
def realm_admin(keycloak: Keycloak) -> RealmAdmin:
    return RealmAdmin(keycloak)


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture(scope="session")
async def mailbox(smtp_sink: SmtpSink, realm_admin: RealmAdmin) -> AsyncIterator[SmtpSink]:
    """The sink, with the realm's SMTP pointed at it for the whole session (restored afterwards)."""
    async with realm_admin.smtp_pointing_at(smtp_sink.host, smtp_sink.port):
        yield smtp_sink


def start_mail_worker(env: dict[str, str], sink: SmtpSink) -> subprocess.Popen[bytes]:
    """A real ``backend worker`` whose mail goes to ``sink``."""
    return start_worker({**env, "WORKTIME_SMTP_HOST": sink.host, "WORKTIME_SMTP_PORT": str(sink.port)})


@pytest.fixture(scope="module")
def mail_worker(migrated: dict[str, str], smtp_sink: SmtpSink) -> Iterator[subprocess.Popen[bytes]]:
    process = start_mail_worker(migrated, smtp_sink)
    yield process
    stop_worker(process)


JOIN_LINK = re.compile(r"https?://[^\s\"'<>]+/join/[A-Za-z0-9_\-.]+")


def join_link(mail: Received) -> str:
    """The platform invitation's link (from the plain-text part)."""
    for body in mail.bodies():
        found = JOIN_LINK.search(html.unescape(body))
        if found:
            return found.group(0)
    raise AssertionError(f"no invitation link in {mail.subject!r}: {mail.bodies()}")


def is_platform_invitation(mail: Received) -> bool:
    return "/join/" in " ".join(mail.bodies())


def new_email(prefix: str = "newbie") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.test"


# --- the invitee's side: a cookie-keeping "browser" through Keycloak's pages ------------------------


class _Page(HTMLParser):
    """Forms (action + named inputs) and links (href + text) of one Keycloak page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, Any]] = []
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": values.get("action", ""), "inputs": {}})
        elif tag == "input" and self.forms and values.get("name"):
            self.forms[-1]["inputs"][values["name"]] = values.get("value", "")
        elif tag == "a" and "href" in values:
            self._href, self._text = values["href"], []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, " ".join("".join(self._text).split())))
            self._href = None


def _parse(body: str) -> _Page:
    page = _Page()
    page.feed(body)
    return page


def page_text(response: httpx.Response) -> str:
    """What the page says, without markup or scripts."""
    visible = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", response.text)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", visible)).split())


class _LoopbackIsSecure(httpx.AsyncBaseTransport):
    """Keycloak marks its session cookies ``Secure`` even over plain HTTP. Browsers still send them to
    127.0.0.1 and localhost (a "potentially trustworthy" origin); httpx does not, so for those hosts the
    flag is dropped before httpx stores the cookie. (A cookie policy would not survive: httpx copies
    the jar into a default one for every request.)"""

    def __init__(self, stub_hosts: frozenset[str] = frozenset()) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._stub = stub_hosts

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.netloc.decode() in self._stub:
            # Where Keycloak sends the browser back to the app: recorded, not served.
            return httpx.Response(200, text=f"APP {request.url}", request=request)
        response = await self._inner.handle_async_request(request)
        if request.url.host not in {"127.0.0.1", "localhost"} or "set-cookie" not in response.headers:
            return response
        headers = [
            (name, re.sub(r"(?i);\s*secure\b", "", value) if name.lower() == "set-cookie" else value)
            for name, value in response.headers.multi_items()
        ]
        return httpx.Response(
            response.status_code, headers=headers, stream=response.stream, extensions=response.extensions
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def browser(stub_hosts: frozenset[str] = frozenset()) -> httpx.AsyncClient:
    """A cookie-keeping client that follows redirects, as a person's browser would; requests to
    ``stub_hosts`` (host:port) are answered with ``APP <url>`` instead of being sent."""
    return httpx.AsyncClient(transport=_LoopbackIsSecure(stub_hosts), follow_redirects=True, timeout=30)


async def accept_invitation_in_browser(
    link: str,
    password: str,
    *,
    first_name: str = "Nina",
    last_name: str = "Newcomer",
    app_host: str | None = None,
) -> httpx.Response:
    """Follow Keycloak's email link as a person would: proceed, choose a password, and complete the
    profile the realm asks for (first and last name). Returns the last page (with ``app_host``, the
    stubbed answer of the app's page Keycloak sent the browser back to)."""
    async with browser(frozenset({app_host}) if app_host else frozenset()) as session:
        response = await session.get(link)
        visited: list[str] = []
        for _ in range(8):
            if app_host and response.url.netloc.decode() == app_host:
                return response
            assert response.status_code == 200, f"{response.url}: {response.status_code}\n{page_text(response)}"
            visited.append(page_text(response)[:300])
            page = _parse(response.text)
            answers = {
                "password-new": password,
                "password-confirm": password,
                "firstName": first_name,
                "lastName": last_name,
            }
            form = next((f for f in page.forms if set(f["inputs"]) & set(answers)), None)
            if form is not None:
                data = {**form["inputs"], **{k: v for k, v in answers.items() if k in form["inputs"]}}
                response = await session.post(str(response.url.join(form["action"])), data=data)
                continue
            proceed = next((href for href, text in page.links if "proceed" in text.lower()), None)
            if proceed is not None:
                response = await session.get(str(response.url.join(proceed)))
                continue
            back = next((href for href, text in page.links if "back to application" in text.lower()), None)
            if app_host and back is not None:
                # Keycloak's "account updated" page links back to the app (the redirect_uri we asked for).
                response = await session.get(str(response.url.join(back)))
                continue
            return response
        raise AssertionError(f"Keycloak's pages did not come to an end: {visited}")


# Invitation links and Keycloak's return address point here in the in-process tests (the dev realm's
# web client accepts any loopback port); the httpx "browser" records requests to it instead of sending.
APP_HOST = "127.0.0.1:8765"


@pytest.fixture(scope="module")
async def client(settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The API in process, with the web app's public URL set (links in invitation emails)."""
    from backend.app import create_app

    app = create_app(settings.model_copy(update={"web_base_url": f"http://{APP_HOST}"}))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{APP_HOST}") as http:
            yield http
