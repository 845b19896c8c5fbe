"""Email domains: their normal form, the DNS TXT record that proves an organization controls one, and
its check (dnspython, asking the system's resolvers or, in development and tests, a loopback nameserver)."""

from __future__ import annotations

import re

import dns.asyncresolver
import dns.exception
import dns.resolver

from backend.settings import Settings

#: The TXT record is published at ``_worktime-challenge.<domain>`` (its own name: no clash with SPF etc.).
RECORD_PREFIX = "_worktime-challenge"
VALUE_PREFIX = "worktime-domain-verification="
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize(raw: str) -> str:
    """The domain as stored: lowercase, without a trailing dot, internationalized names in punycode.
    Raises ValueError with a plain message when it is not a domain name."""
    shown = raw if len(raw) <= 80 else raw[:77] + "..."
    text = raw.strip().rstrip(".").lower()
    if "@" in text:
        raise ValueError("give the domain alone (example.com), not an email address")
    try:
        text = text.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{shown!r} is not a valid domain name") from None
    labels = text.split(".")
    if len(text) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"{shown!r} is not a valid domain name (like example.com)")
    if labels[-1].isdigit():
        raise ValueError("give a domain name, not an IP address")
    return text


def record_name(domain: str) -> str:
    return f"{RECORD_PREFIX}.{domain}"


def record_value(token: str) -> str:
    return f"{VALUE_PREFIX}{token}"


class CheckFailed(Exception):
    """The record is missing or holds another value; the message says which, in plain words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _resolver(settings: Settings) -> dns.asyncresolver.Resolver:
    server = settings.sso_dns_server
    if server is None:
        resolver = dns.asyncresolver.Resolver()
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [server[0]]
        resolver.port = server[1]
    resolver.lifetime = settings.sso_dns_timeout_seconds
    resolver.cache = None
    return resolver


async def check(settings: Settings, domain: str, token: str) -> None:
    """Pass when a TXT record at :func:`record_name` holds :func:`record_value`; raise CheckFailed otherwise."""
    name, wanted = record_name(domain), record_value(token)
    try:
        answer = await _resolver(settings).resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        raise CheckFailed(f"No TXT record was found at {name}. Publish it, wait a few minutes, and retry.") from None
    except dns.exception.Timeout:
        raise CheckFailed(f"The DNS lookup of {name} timed out. Retry shortly.") from None
    except dns.exception.DNSException:
        raise CheckFailed(f"The DNS lookup of {name} failed (no nameserver answered). Retry shortly.") from None
    found = [b"".join(record.strings).decode("utf-8", "replace") for record in answer]
    if wanted in found:
        return
    shown = ", ".join(repr(value) for value in sorted(found)[:3])
    raise CheckFailed(f"The TXT record at {name} holds {shown}, not {wanted!r}. Correct it and retry.")
