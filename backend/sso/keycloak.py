"""Identity providers in Keycloak's ``worktime`` realm, each linked to its organization's Keycloak copy
(backend/tenancy/directory.py). Keycloak brokers the sign-in; the provider's client secret lives there
only (Keycloak answers ``**********`` for it, so it never comes back out)."""

from __future__ import annotations

from typing import Any

from keycloak.exceptions import KeycloakDeleteError, KeycloakError, KeycloakGetError

from backend.settings import Settings
from backend.sso.connection import POST_BINDING, OidcEndpoints, SamlIdp
from backend.tenancy.directory import Directory, unavailable

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
        "firstBrokerLoginFlowAlias": "first broker login",
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


class Providers:
    """Create, change and remove identity providers in Keycloak. Failures become 503s."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.admin = directory.admin

    async def create(self, kc_org_id: str, representation: dict[str, Any]) -> None:
        """Create the provider and link it to the organization; nothing is left when a step fails."""
        alias = str(representation["alias"])
        try:
            await self.admin.a_create_idp(representation)
        except KeycloakError as exc:
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

    async def update(self, alias: str, representation: dict[str, Any]) -> None:
        try:
            current = await self.admin.a_get_idp(alias)
            config = {**(current.get("config") or {}), **representation["config"]}
            if "clientSecret" not in representation["config"]:
                config.pop("clientSecret", None)  # "**********" from the read: Keycloak keeps the stored one
            await self.admin.a_update_idp(alias, {**current, **representation, "config": config})
        except KeycloakError as exc:
            raise unavailable(exc) from None

    async def delete(self, alias: str) -> bool:
        """Remove the provider (its organization link and its users' links go with it)."""
        try:
            await self.admin.a_delete_idp(alias)
        except KeycloakDeleteError as exc:
            if exc.response_code == 404:
                return False
            raise unavailable(exc) from None
        except KeycloakError as exc:
            raise unavailable(exc) from None
        return True

    async def get(self, alias: str) -> dict[str, Any] | None:
        try:
            return dict(await self.admin.a_get_idp(alias))
        except KeycloakGetError as exc:
            if exc.response_code == 404:
                return None
            raise unavailable(exc) from None
        except KeycloakError as exc:
            raise unavailable(exc) from None
