"""Identity providers in Keycloak's ``worktime`` realm, each linked to its organization's Keycloak copy
(backend/tenancy/directory.py). Keycloak brokers the sign-in; the provider's client secret lives there
only (Keycloak answers ``**********`` for it, so it never comes back out)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from keycloak.exceptions import KeycloakDeleteError, KeycloakError, KeycloakGetError

from backend.settings import Settings
from backend.sso.connection import POST_BINDING, OidcEndpoints, SamlIdp
from backend.tenancy.directory import Directory, link_flow_alias, unavailable
from keycloak import KeycloakAdmin

EMAIL_NAME_ID = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
UNSPECIFIED_NAME_ID = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"


def broker_endpoint(settings: Settings, alias: str) -> str:
    """Where the provider sends people back: the OIDC redirect URI, the SAML ACS URL."""
    return f"{settings.keycloak_issuer}/broker/{alias}/endpoint"


def _base(alias: str, display_name: str, provider_id: str, enabled: bool) -> dict[str, Any]:
    return {
        "alias": alias,
        "displayName": display_name,
        "providerId": provider_id,
        "enabled": enabled,
        # The provider vouches for the address: the first sign-in links to or creates the account
        # without asking the person to verify an email their company already verified.
        "trustEmail": True,
        "storeToken": False,
        # Its own first-login flow (below): an existing account is linked without a question only when its
        # email is at one of the organization's verified domains.
        "firstBrokerLoginFlowAlias": link_flow_alias(alias),
        # Reached by email domain (kc_idp_hint), not shown as a button to everyone on the login page.
        "hideOnLogin": True,
    }


def oidc_representation(
    alias: str,
    display_name: str,
    enabled: bool,
    endpoints: OidcEndpoints,
    *,
    client_id: str,
    client_secret: str | None,
    scopes: list[str],
) -> dict[str, Any]:
    config = {
        "issuer": endpoints.issuer,
        "authorizationUrl": endpoints.authorization_endpoint,
        "tokenUrl": endpoints.token_endpoint,
        "jwksUrl": endpoints.jwks_uri,
        "useJwksUrl": "true",
        "validateSignature": "true",
        "clientId": client_id,
        "clientAuthMethod": "client_secret_post",
        "defaultScope": " ".join(scopes),
        "pkceEnabled": "true",
        "pkceMethod": "S256",
        "syncMode": "FORCE",  # names and email follow the provider on every sign-in
        "hideOnLoginPage": "true",
        # The web app's email-first sign-in passes login_hint; the provider's own form gets it too.
        "loginHint": "true",
    }
    if client_secret is not None:
        config["clientSecret"] = client_secret
    if endpoints.userinfo_endpoint:
        config["userInfoUrl"] = endpoints.userinfo_endpoint
    if endpoints.end_session_endpoint:
        config["logoutUrl"] = endpoints.end_session_endpoint
    return {**_base(alias, display_name, "oidc", enabled), "config": config}


def saml_representation(
    settings: Settings, alias: str, display_name: str, enabled: bool, idp: SamlIdp, *, metadata_url: str | None
) -> dict[str, Any]:
    post = "true" if idp.sso_binding == POST_BINDING else "false"
    name_id = EMAIL_NAME_ID if EMAIL_NAME_ID in idp.name_id_formats or not idp.name_id_formats else UNSPECIFIED_NAME_ID
    config = {
        "entityId": settings.keycloak_issuer,
        "idpEntityId": idp.entity_id,
        "singleSignOnServiceUrl": idp.sso_url,
        "postBindingAuthnRequest": post,
        "postBindingResponse": "true",
        "postBindingLogout": "true",
        "validateSignature": "true",
        "signingCertificate": ",".join(idp.certificates),
        "nameIDPolicyFormat": name_id,
        "principalType": "SUBJECT",
        "syncMode": "FORCE",
        "hideOnLoginPage": "true",
    }
    if idp.slo_url:
        config["singleLogoutServiceUrl"] = idp.slo_url
    if metadata_url:
        config["metadataDescriptorUrl"] = metadata_url
    return {**_base(alias, display_name, "saml", enabled), "config": config}


# SAML assertions name their attributes as the provider likes; these are the common spellings (Azure AD's
# claim URIs, Okta's and Keycloak's plain names) imported as the account's email and names.
SAML_ATTRIBUTES = {
    "email": ["email", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"],
    "firstName": ["firstName", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"],
    "lastName": ["lastName", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"],
}


#: The person's groups at the provider land in this user attribute (updated on every sign-in), and the
#: realm's ``idp-groups`` protocol mapper puts it into access tokens as ``groups`` (keycloak/realm.json).
GROUPS_ATTRIBUTE = "idp_groups"
SAML_GROUP_ATTRIBUTES = ["groups", "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"]


def group_mappers(alias: str, kind: str) -> list[dict[str, Any]]:
    """Identity-provider mappers carrying the provider's groups claim (OIDC) or attribute (SAML)."""
    if kind == "saml":
        return [
            {
                "name": f"groups from {name}"[:255],
                "identityProviderAlias": alias,
                "identityProviderMapper": "saml-user-attribute-idp-mapper",
                "config": {"syncMode": "FORCE", "attribute.name": name, "user.attribute": GROUPS_ATTRIBUTE},
            }
            for name in SAML_GROUP_ATTRIBUTES
        ]
    return [
        {
            "name": "groups",
            "identityProviderAlias": alias,
            "identityProviderMapper": "oidc-user-attribute-idp-mapper",
            "config": {"syncMode": "FORCE", "claim": "groups", "user.attribute": GROUPS_ATTRIBUTE},
        }
    ]


# --- first sign-in through a provider: linking an existing account ----------------------------------
#
# Keycloak's built-in "first broker login" flow finds an account with the same email (an invitation or
# SCIM made it) and stops on "Account already exists": the person must confirm, then prove they own the
# account by an emailed link or its password (which an invited or SCIM-made account may not have).
# Each provider gets its own copy of that flow instead, which links such an account at once when the
# account's email is at one of the organization's *verified* domains (the organization proved by DNS
# that it controls those mailboxes, so its provider may speak for them) and keeps Keycloak's proof
# (emailed link or password) for every other account: auto-linking an address at a domain the
# organization has not proved would let any organization's provider take over anyone's account.
# The profile review step is off, so the person never edits the email their provider asserted; and
# there is no "review profile" button that would reset the flow into that form.

LINK_CONDITION = "conditional-user-attribute"
NEVER = "(?!)"  # a Java regex matching nothing: no verified domain yet


def verified_email_pattern(domains: Iterable[str]) -> str:
    """The Java regex (full match) of an email address at one of ``domains``, case-insensitive."""
    names = sorted({d.lower() for d in domains})
    if not names:
        return NEVER
    return "(?i)[^@]+@(?:" + "|".join(re.escape(name) for name in names) + ")"


@dataclass(frozen=True)
class Step:
    """An execution (``provider``) or, with ``steps``, a sub-flow named ``sub``."""

    provider: str
    requirement: str
    config: dict[str, str] | None = None
    sub: str | None = None
    steps: tuple[Step, ...] = field(default_factory=tuple)


def link_flow(alias: str, pattern: str) -> tuple[Step, ...]:
    """The provider's first-login flow (Keycloak 26's "first broker login", changed as described above)."""
    flow = link_flow_alias(alias)
    return (
        Step("idp-review-profile", "REQUIRED", {"update.profile.on.first.login": "off"}),
        Step(
            "",
            "REQUIRED",
            sub=f"{flow}-link",
            steps=(
                Step(
                    "idp-create-user-if-unique", "ALTERNATIVE", {"require.password.update.after.registration": "false"}
                ),
                Step(
                    "",
                    "ALTERNATIVE",
                    sub=f"{flow}-existing",
                    steps=(
                        Step("idp-auto-link", "REQUIRED"),
                        Step(
                            "",
                            "CONDITIONAL",
                            sub=f"{flow}-unverified-domain",
                            steps=(
                                Step(
                                    LINK_CONDITION,
                                    "REQUIRED",
                                    {
                                        "attribute_name": "email",
                                        "attribute_expected_value": pattern,
                                        "regex": "true",
                                        "not": "true",
                                    },
                                ),
                                Step(
                                    "",
                                    "REQUIRED",
                                    sub=f"{flow}-proof",
                                    steps=(
                                        Step("idp-email-verification", "ALTERNATIVE"),
                                        Step(
                                            "",
                                            "ALTERNATIVE",
                                            sub=f"{flow}-password",
                                            steps=(Step("idp-username-password-form", "REQUIRED"),),
                                        ),
                                    ),
                                ),
                            ),
                        ),
                    ),
                ),
            ),
        ),
        Step(
            "",
            "CONDITIONAL",
            sub=f"{flow}-organization",
            steps=(Step("conditional-user-configured", "REQUIRED"), Step("idp-add-organization-member", "REQUIRED")),
        ),
    )


class LinkFlows:
    """Each provider's first-login flow in Keycloak: made with the provider, its verified-domain pattern
    kept in step with the organization's verified domains, removed after the provider."""

    def __init__(self, admin: KeycloakAdmin) -> None:
        self.admin = admin

    async def create(self, alias: str, domains: Iterable[str]) -> None:
        flow = link_flow_alias(alias)
        await self.delete(alias)  # a leftover of a failed attempt
        await self.admin.a_create_authentication_flow(
            {
                "alias": flow,
                "description": f"First sign-in through {alias}: links accounts at verified domains",
                "providerId": "basic-flow",
                "topLevel": True,
                "builtIn": False,
            }
        )
        await self._add(flow, link_flow(alias, verified_email_pattern(domains)))

    async def _add(self, parent: str, steps: Iterable[Step]) -> None:
        # Explicit priorities: Keycloak runs a flow's executions in priority order, and an update that
        # leaves the priority out sets it to 0 (every step alike: an arbitrary order).
        for number, step in enumerate(steps, start=1):
            priority = number * 10
            if step.sub is not None:
                await self.admin.a_create_authentication_flow_subflow(
                    {
                        "alias": step.sub,
                        "type": "basic-flow",
                        "provider": "registration-page-form",
                        "description": "",
                        "priority": priority,
                    },
                    parent,
                )
            else:
                await self.admin.a_create_authentication_flow_execution(
                    {"provider": step.provider, "priority": priority}, parent
                )
            children = [e for e in await self.admin.a_get_authentication_flow_executions(parent) if e["level"] == 0]
            execution = next(e for e in children if int(e.get("priority", -1)) == priority)
            await self.admin.a_update_authentication_flow_executions(
                {**execution, "requirement": step.requirement, "priority": priority}, parent
            )
            if step.config is not None:
                await self.admin.a_create_execution_config(
                    execution["id"], {"alias": f"{parent}-{step.provider}"[:255], "config": step.config}
                )
            if step.sub is not None:
                await self._add(step.sub, step.steps)

    async def set_domains(self, alias: str, domains: Iterable[str]) -> bool:
        """Point the flow's condition at ``domains``; False when the provider has no such flow (one
        connected before these flows existed keeps Keycloak's own "first broker login")."""
        try:
            executions = await self.admin.a_get_authentication_flow_executions(link_flow_alias(alias))
        except KeycloakGetError as exc:
            if exc.response_code == 404:
                return False
            raise
        condition = next((e for e in executions if e.get("providerId") == LINK_CONDITION), None)
        if condition is None or not condition.get("authenticationConfig"):
            return False
        config_id = str(condition["authenticationConfig"])
        current = await self.admin.a_get_authenticator_config(config_id)
        wanted = verified_email_pattern(domains)
        if (current.get("config") or {}).get("attribute_expected_value") != wanted:
            config = {**(current.get("config") or {}), "attribute_expected_value": wanted}
            await self.admin.a_update_authenticator_config({**current, "config": config}, config_id)
        return True

    async def delete(self, alias: str) -> None:
        flow = link_flow_alias(alias)
        for found in await self.admin.a_get_authentication_flows():
            if found.get("alias") == flow:
                await self.admin.a_delete_authentication_flow(str(found["id"]))


#: The setup an invitation or SCIM leaves on a new account (backend/members/keycloak.py). Someone who
#: signs in through their organization's provider needs no password and no profile form, and the
#: provider vouches for the address (the realm asks VERIFY_EMAIL of every unverified address again at
#: each sign-in, so the flag itself is set).
SETUP_ACTIONS = frozenset({"VERIFY_EMAIL", "UPDATE_PROFILE", "UPDATE_PASSWORD"})


class Providers:
    """Create, change and remove identity providers in Keycloak. Failures become 503s."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.admin = directory.admin
        self.flows = LinkFlows(directory.admin)

    async def create(self, kc_org_id: str, representation: dict[str, Any], domains: Iterable[str]) -> None:
        """Create the provider (after its first-login flow, for ``domains``: the organization's verified
        ones) and link it to the organization; nothing is left when a step fails."""
        alias = str(representation["alias"])
        try:
            await self.flows.create(alias, domains)
            await self.admin.a_create_idp(representation)
        except KeycloakError as exc:
            await self.delete(alias)
            raise unavailable(exc) from None
        try:
            if representation["providerId"] == "saml":
                for user_attribute, names in SAML_ATTRIBUTES.items():
                    for name in names:
                        await self.admin.a_add_mapper_to_idp(
                            alias,
                            {
                                "name": f"{user_attribute} from {name}"[:255],
                                "identityProviderAlias": alias,
                                "identityProviderMapper": "saml-user-attribute-idp-mapper",
                                "config": {
                                    "syncMode": "INHERIT",
                                    "attribute.name": name,
                                    "user.attribute": user_attribute,
                                },
                            },
                        )
            for mapper in group_mappers(alias, str(representation["providerId"])):
                await self.admin.a_add_mapper_to_idp(alias, mapper)
            await self.admin.a_organization_idp_add(kc_org_id, alias)
        except KeycloakError as exc:
            await self.delete(alias)
            raise unavailable(exc) from None

    async def update(self, alias: str, representation: dict[str, Any], domains: Iterable[str] | None = None) -> None:
        """Change the provider; with ``domains``, its first-login flow too (made now for a provider
        connected before these flows existed)."""
        try:
            if domains is not None:
                if not await self.flows.set_domains(alias, domains):
                    await self.flows.create(alias, domains)
                representation = {**representation, "firstBrokerLoginFlowAlias": link_flow_alias(alias)}
            current = await self.admin.a_get_idp(alias)
            config = {**(current.get("config") or {}), **representation["config"]}
            if "clientSecret" not in representation["config"]:
                config.pop("clientSecret", None)  # "**********" from the read: Keycloak keeps the stored one
            await self.admin.a_update_idp(alias, {**current, **representation, "config": config})
        except KeycloakError as exc:
            raise unavailable(exc) from None

    async def delete(self, alias: str) -> bool:
        """Remove the provider (its organization link and its users' links go with it), then its
        first-login flow."""
        found = True
        try:
            await self.admin.a_delete_idp(alias)
        except KeycloakDeleteError as exc:
            if exc.response_code != 404:
                raise unavailable(exc) from None
            found = False
        except KeycloakError as exc:
            raise unavailable(exc) from None
        try:
            await self.flows.delete(alias)
        except KeycloakError as exc:
            raise unavailable(exc) from None
        return found

    async def drop_setup(self, email: str) -> bool:
        """Before a sign-in through a provider: an account with this exact email that was never set up
        (no credential at all: an invitation or SCIM made it) loses the verify-email, set-a-password and
        fill-in-your-profile steps, which Keycloak would otherwise ask of the person right after their
        provider signed them in, and its address counts as verified. An account with any credential is
        left alone; True when something changed."""
        try:
            found = await self.admin.a_get_users({"email": email, "exact": True, "briefRepresentation": False})
            changed = False
            for user in found:
                actions = [str(a) for a in user.get("requiredActions") or []]
                if not SETUP_ACTIONS & set(actions):
                    continue
                credentials = await self.admin.a_get_credentials(str(user["id"]))
                if credentials:
                    continue
                kept = [a for a in actions if a not in SETUP_ACTIONS]
                await self.admin.a_update_user(str(user["id"]), {"requiredActions": kept, "emailVerified": True})
                changed = True
            return changed
        except KeycloakError as exc:
            raise unavailable(exc) from None

    async def set_domains(self, aliases: Iterable[str], domains: Iterable[str]) -> None:
        """The organization's verified domains changed: its providers' first-login flows follow."""
        wanted = sorted(set(domains))
        try:
            for alias in aliases:
                await self.flows.set_domains(alias, wanted)
        except KeycloakError as exc:
            raise unavailable(exc) from None

    async def get(self, alias: str) -> dict[str, Any] | None:
        try:
            return dict(await self.admin.a_get_idp(alias))
        except KeycloakGetError as exc:
            if exc.response_code == 404:
                return None
            raise unavailable(exc) from None
        except KeycloakError as exc:
            raise unavailable(exc) from None
