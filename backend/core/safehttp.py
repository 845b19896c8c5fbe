"""Outbound HTTP to addresses users chose (webhook endpoints), guarded against SSRF.

A URL's host is resolved here, every address it resolves to is checked, and the connection goes to
the checked address itself (the URL's host stays in the ``Host`` header and TLS SNI/certificate
check). So a DNS answer that changes between the check and the connect (rebinding) cannot reach an
internal address: there is no second lookup. Redirects are never followed (a 3xx is an answer, not a
success), timeouts bound every phase and at most ``max_response_bytes`` of an answer are read.

Refused: loopback, private (RFC 1918, ULA), link-local (incl. the 169.254.169.254 metadata address),
multicast, reserved, unspecified and shared (CGNAT) addresses, IPv4 and IPv6, IPv4-mapped IPv6
unwrapped first. Loopback alone may be allowed, outside production, for the tests' receiver.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedDestination(Exception):
    """The URL may not be called (its address class, scheme or form); the message says why."""


def address_class(address: IPAddress) -> str | None:
    """Why ``address`` is forbidden (``loopback``, ``private`` …), or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "non-global"
    return None


def check_address(address: IPAddress, *, allow_loopback: bool) -> None:
    reason = address_class(address)
    if reason is None or (reason == "loopback" and allow_loopback):
        return
    raise RefusedDestination(f"{address} is a {reason} address")


def check_url_form(url: str) -> None:
    """The URL's shape alone (at registration): http(s), a host, no credentials."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise RefusedDestination("only http and https URLs are allowed")
    if not parts.hostname:
        raise RefusedDestination("the URL has no host")
    if parts.username or parts.password:
        raise RefusedDestination("credentials in the URL are not allowed")


async def resolve(url: str, *, allow_loopback: bool) -> IPAddress:
    """The address to connect to: every address the host resolves to must be allowed."""
    check_url_form(url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise RefusedDestination(f"{host} does not resolve ({exc.strerror})") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        if not addresses:
            raise RefusedDestination(f"{host} does not resolve")
    for address in addresses:
        check_address(address, allow_loopback=allow_loopback)
    return addresses[0]


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int
    body: bytes
    duration_ms: int


async def post(
    url: str,
    content: bytes,
    headers: dict[str, str],
    *,
    allow_loopback: bool,
    timeout_seconds: float,
    max_response_bytes: int,
) -> Answer:
    """POST ``content`` to ``url`` through the pinned, checked address. Raises RefusedDestination or
    httpx.HTTPError (connection, timeout); any HTTP status is an Answer."""
    address = await resolve(url, allow_loopback=allow_loopback)
    parts = urlsplit(url)
    host = parts.hostname or ""
    shown = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{shown}:{parts.port}" if parts.port else shown
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    host_header = f"{host}:{parts.port}" if parts.port else host
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    started = time.perf_counter()
    async with httpx.AsyncClient(
        follow_redirects=False, timeout=httpx.Timeout(timeout_seconds), trust_env=False
    ) as client:
        request = client.build_request(
            "POST", pinned, content=content, headers={**headers, "Host": host_header}, extensions=extensions
        )
        response = await client.send(request, stream=True)
        try:
            body = bytearray()
            async for chunk in response.aiter_raw():
                body.extend(chunk[: max_response_bytes - len(body)])
                if len(body) >= max_response_bytes:
                    break
        finally:
            await response.aclose()
    return Answer(response.status_code, bytes(body), int((time.perf_counter() - started) * 1000))
