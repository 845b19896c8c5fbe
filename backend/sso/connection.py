"""Fetch and check what an identity provider publishes: an OpenID Connect discovery document or SAML
metadata. Every failure is said in plain words an IT admin can act on (:class:`ConnectionProblem`)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from backend.settings import Settings

DISCOVERY_SUFFIX = "/.well-known/openid-configuration"
_MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"
_DS = "{http://www.w3.org/2000/09/xmldsig#}"
POST_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
REDIRECT_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
MAX_DOCUMENT_BYTES = 1_048_576


class ConnectionProblem(Exception):
    """What is wrong with the provider's published configuration, in a sentence."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True, slots=True)
class OidcEndpoints:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    end_session_endpoint: str | None


@dataclass(frozen=True, slots=True)
class SamlIdp:
    entity_id: str
    sso_url: str
    sso_binding: str
    slo_url: str | None
    certificates: tuple[str, ...]
    name_id_formats: tuple[str, ...]


def discovery_url(url: str) -> str:
    """Admins paste the issuer or the discovery document's URL; both work."""
    url = url.strip()
    return url if url.rstrip("/").endswith(DISCOVERY_SUFFIX) else url.rstrip("/") + DISCOVERY_SUFFIX


def check_url(settings: Settings, url: str, *, field: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConnectionProblem(f"'{url}' is not an http(s) URL.", field=field)
    if parts.scheme != "https" and settings.sso_require_https_on:
        raise ConnectionProblem(f"'{url}' must use https.", field=field)


async def _get(settings: Settings, url: str, *, field: str, what: str) -> httpx.Response:
    check_url(settings, url, field=field)
    try:
        async with httpx.AsyncClient(timeout=settings.sso_fetch_timeout_seconds, follow_redirects=False) as http:
            response = await http.get(url, headers={"Accept": "application/json, application/xml, text/xml"})
    except httpx.TimeoutException:
        raise ConnectionProblem(
            f"The {what} at {url} did not answer within {settings.sso_fetch_timeout_seconds:g} seconds.", field=field
        ) from None
    except httpx.ConnectError:
        raise ConnectionProblem(
            f"The {what} at {url} could not be reached (the name does not resolve or nothing listens there).",
            field=field,
        ) from None
    except httpx.HTTPError as exc:
        raise ConnectionProblem(f"Fetching the {what} at {url} failed: {type(exc).__name__}.", field=field) from None
    if response.status_code != 200:
        raise ConnectionProblem(
            f"The {what} at {url} answered HTTP {response.status_code}, not the document itself.", field=field
        )
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise ConnectionProblem(f"The {what} at {url} is larger than 1 MB.", field=field)
    return response


async def fetch_oidc(settings: Settings, url: str) -> OidcEndpoints:
    """The provider's discovery document, checked for what signing people in needs."""
    url = discovery_url(url)
    response = await _get(settings, url, field="discovery_url", what="discovery document")
    try:
        document = response.json()
    except ValueError:
        raise ConnectionProblem(
            f"The discovery document at {url} is not JSON: is this the provider's OpenID Connect discovery URL?",
            field="discovery_url",
        ) from None
    if not isinstance(document, dict):
        raise ConnectionProblem(f"The discovery document at {url} is not a JSON object.", field="discovery_url")
    required = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
    missing = [name for name in required if not isinstance(document.get(name), str) or not document[name]]
    if missing:
        raise ConnectionProblem(
            f"The discovery document at {url} lacks {', '.join(missing)}: it is not an OpenID Connect provider's.",
            field="discovery_url",
        )
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        check_url(settings, str(document[name]), field="discovery_url")

    def optional(name: str) -> str | None:
        value = document.get(name)
        return value if isinstance(value, str) and value else None

    return OidcEndpoints(
        issuer=str(document["issuer"]),
        authorization_endpoint=str(document["authorization_endpoint"]),
        token_endpoint=str(document["token_endpoint"]),
        jwks_uri=str(document["jwks_uri"]),
        userinfo_endpoint=optional("userinfo_endpoint"),
        end_session_endpoint=optional("end_session_endpoint"),
    )


async def fetch_saml_metadata(settings: Settings, url: str) -> tuple[SamlIdp, str]:
    response = await _get(settings, url, field="metadata_url", what="SAML metadata")
    return parse_saml_metadata(response.text, field="metadata_url"), response.text


def parse_saml_metadata(xml: str, *, field: str = "metadata_xml") -> SamlIdp:
    """The identity provider described by SAML 2.0 metadata (an ``EntityDescriptor`` with an
    ``IDPSSODescriptor``; the first such one inside an ``EntitiesDescriptor``)."""
    try:
        root = ElementTree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    except DefusedXmlException:
        raise ConnectionProblem(
            "The SAML metadata uses XML features we refuse (entities or DTDs).", field=field
        ) from None
    except ElementTree.ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise ConnectionProblem(
            f"The SAML metadata is not well-formed XML (line {line}, column {column}).", field=field
        ) from None
    entities = [root] if root.tag == f"{_MD}EntityDescriptor" else list(root.iter(f"{_MD}EntityDescriptor"))
    if not entities:
        raise ConnectionProblem("This XML is not SAML 2.0 metadata (no md:EntityDescriptor element).", field=field)
    for entity in entities:
        idp = entity.find(f"{_MD}IDPSSODescriptor")
        if idp is None:
            continue
        entity_id = entity.get("entityID") or ""
        if not entity_id:
            raise ConnectionProblem("The SAML metadata's EntityDescriptor has no entityID.", field=field)
        services = {s.get("Binding"): s.get("Location") for s in idp.findall(f"{_MD}SingleSignOnService")}
        binding = POST_BINDING if services.get(POST_BINDING) else REDIRECT_BINDING
        sso_url = services.get(binding)
        if not sso_url:
            raise ConnectionProblem(
                "The SAML metadata has no SingleSignOnService with the HTTP-POST or HTTP-Redirect binding.",
                field=field,
            )
        certificates = tuple(
            "".join((cert.text or "").split())
            for key in idp.findall(f"{_MD}KeyDescriptor")
            if key.get("use") in (None, "signing")
            for cert in key.iter(f"{_DS}X509Certificate")
            if (cert.text or "").strip()
        )
        if not certificates:
            raise ConnectionProblem(
                "The SAML metadata has no signing certificate (KeyDescriptor with an X509Certificate): "
                "its responses could not be verified.",
                field=field,
            )
        slo = {s.get("Binding"): s.get("Location") for s in idp.findall(f"{_MD}SingleLogoutService")}
        formats = tuple((f.text or "").strip() for f in idp.findall(f"{_MD}NameIDFormat") if (f.text or "").strip())
        return SamlIdp(
            entity_id=entity_id,
            sso_url=str(sso_url),
            sso_binding=binding,
            slo_url=slo.get(POST_BINDING) or slo.get(REDIRECT_BINDING),
            certificates=certificates,
            name_id_formats=formats,
        )
    raise ConnectionProblem(
        "The SAML metadata describes no identity provider (no IDPSSODescriptor): is it the service provider's?",
        field=field,
    )
