"""The identity provider's admin side: create or find people, and ask Keycloak to email a person the
link that lets them verify their address and choose a password (the only Keycloak email we use).

One ``KeycloakAdmin`` per process (python-keycloak refreshes its service-account token without a lock,
so sharing one client avoids a stampede). Every failure to reach Keycloak becomes a 503 for the caller.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import structlog
from keycloak.exceptions import KeycloakConnectionError, KeycloakError, KeycloakGetError, KeycloakPostError

from backend.core.errors import DependencyUnavailable
from backend.settings import Settings
from keycloak import KeycloakAdmin, KeycloakOpenIDConnection

log = structlog.get_logger(__name__)

# UPDATE_PROFILE, not Keycloak's automatic VERIFY_PROFILE, asks a new person for the names the realm's
# user profile requires: VERIFY_PROFILE shows its form with red "required" errors before anyone has typed.
INVITE_ACTIONS = ["VERIFY_EMAIL", "UPDATE_PROFILE", "UPDATE_PASSWORD"]


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    enabled: bool
    required_actions: tuple[str, ...]
    has_password: bool
    has_name: bool

    @property
    def needs_setup(self) -> bool:
        """Created by an invitation and not yet set up: the person has no way to sign in yet."""
        return bool(self.required_actions) or not self.has_password


@dataclass(frozen=True)
class Person:
    id: uuid.UUID
    email: str
    username: str
    display_name: str | None
    created: bool


class IdentityProvider:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        connection = KeycloakOpenIDConnection(
            server_url=settings.keycloak_admin_url or settings.keycloak_url,
            realm_name=settings.keycloak_realm,
            user_realm_name=settings.keycloak_realm,
            client_id=settings.keycloak_admin_client_id,
            client_secret_key=settings.keycloak_admin_client_secret,
            grant_type="client_credentials",
            timeout=int(settings.keycloak_timeout_seconds),
            max_retries=0,
        )
        self._admin = KeycloakAdmin(connection=connection)

    @property
    def admin(self) -> KeycloakAdmin:
        """The process's one admin client, shared with Keycloak's organization mirror."""
        return self._admin

    async def find_or_create(self, email: str) -> Person:
        """Link an existing account by email, or create a new one that must verify and set a password."""
        try:
            found = await self._admin.a_get_users({"email": email, "exact": True})
            if found:
                return _person(found[0], created=False)
            try:
                user_id = await self._admin.a_create_user(
                    {
                        "username": email,
                        "email": email,
                        "enabled": True,
                        "emailVerified": False,
                        "requiredActions": INVITE_ACTIONS,
                    }
                )
            except KeycloakPostError as exc:
                if exc.response_code != 409:
                    raise
                # Someone else created it meanwhile (or the username is taken by an account whose
                # email changed): link it, and never treat it as ours to delete.
                existing = await self._admin.a_get_users(
                    {"email": email, "exact": True}
                ) or await self._admin.a_get_users({"username": email, "exact": True})
                if not existing:
                    raise
                return _person(existing[0], created=False)
            return Person(id=uuid.UUID(user_id), email=email, username=email, display_name=None, created=True)
        except (KeycloakConnectionError, KeycloakError) as exc:
            raise _unavailable(exc) from None

    async def account_state(self, user_id: uuid.UUID) -> Account | None:
        """Whether the account still has setup to do (required actions or no password); ``None`` when
        Keycloak no longer has it."""
        try:
            try:
                user = await self._admin.a_get_user(str(user_id))
            except KeycloakGetError as exc:
                if exc.response_code == 404:
                    return None
                raise
            credentials = await self._admin.a_get_credentials(str(user_id))
        except (KeycloakConnectionError, KeycloakError) as exc:
            raise _unavailable(exc) from None
        actions = [str(action) for action in user.get("requiredActions") or []]
        has_password = any(c.get("type") == "password" for c in credentials)
        return Account(
            id=user_id,
            enabled=bool(user.get("enabled", True)),
            required_actions=tuple(actions),
            has_password=has_password,
            has_name=bool(user.get("firstName")) and bool(user.get("lastName")),
        )

    async def enabled_accounts(self) -> dict[uuid.UUID, bool]:
        """Every account of the realm and whether it is enabled (brief representations, paged)."""
        try:
            users = await self._admin.a_get_users({"briefRepresentation": True})
        except (KeycloakConnectionError, KeycloakError) as exc:
            raise _unavailable(exc) from None
        return {uuid.UUID(str(user["id"])): bool(user.get("enabled", True)) for user in users}

    async def account_enabled(self, user_id: uuid.UUID) -> bool | None:
        """Whether the account is enabled; ``None`` when Keycloak no longer has it."""
        try:
            try:
                user = await self._admin.a_get_user(str(user_id))
            except KeycloakGetError as exc:
                if exc.response_code == 404:
                    return None
                raise
        except (KeycloakConnectionError, KeycloakError) as exc:
            raise _unavailable(exc) from None
        return bool(user.get("enabled", True))

    async def accounts_changed_since(self, since_ms: int) -> tuple[set[uuid.UUID], int]:
        """The accounts an admin updated or deleted after ``since_ms`` (Keycloak's admin events, newest
        first, read page by page back to ``since_ms``), and the time of the newest event seen."""
        changed: set[uuid.UUID] = set()
        newest, first, page = since_ms, 0, 100
        try:
            while True:
                events = await self._admin.a_get_admin_events(
                    {"resourceTypes": "USER", "operationTypes": ["UPDATE", "DELETE"], "first": first, "max": page}
                )
                fresh = [event for event in events if int(event.get("time", 0)) > since_ms]
                for event in fresh:
                    newest = max(newest, int(event["time"]))
                    path = str(event.get("resourcePath", ""))
                    parts = path.split("/")
                    if len(parts) >= 2 and parts[0] == "users":
                        try:
                            changed.add(uuid.UUID(parts[1]))
                        except ValueError:
                            continue
                if len(events) < page or len(fresh) < len(events):
                    return changed, newest
                first += page
        except (KeycloakConnectionError, KeycloakError) as exc:
            raise _unavailable(exc) from None

    async def send_setup_email(self, account: Account, *, redirect_uri: str, lifespan_seconds: int) -> None:
        """Keycloak's execute-actions email (verify the address, choose a password), valid for
        ``lifespan_seconds``; when done Keycloak sends the browser to ``redirect_uri`` (which the web
        app's client must allow). Keycloak cannot make that link single-use through the admin API:
        the short lifespan is what bounds it (docs/security.md)."""
        actions = list(account.required_actions) or (INVITE_ACTIONS if not account.has_password else [])
        if "UPDATE_PASSWORD" not in actions and not account.has_password:
            actions.append("UPDATE_PASSWORD")
        if "UPDATE_PROFILE" not in actions and not account.has_name:
            actions.append("UPDATE_PROFILE")
        try:
            await self._admin.a_send_update_account(
                user_id=str(account.id),
                payload=actions,
                client_id=self._settings.web_client_id,
                lifespan=lifespan_seconds,
                redirect_uri=redirect_uri,
            )
        except KeycloakError as exc:
            raise _unavailable(exc) from None

    async def delete(self, user_id: uuid.UUID) -> None:
        """Undo an account this request created, when a later step failed (best effort)."""
        try:
            await self._admin.a_delete_user(str(user_id))
        except KeycloakError:
            log.warning("keycloak_compensation_failed", user_id=str(user_id))


def _person(representation: dict[str, object], *, created: bool) -> Person:
    first, last = representation.get("firstName"), representation.get("lastName")
    name = " ".join(str(part) for part in (first, last) if part) or None
    return Person(
        id=uuid.UUID(str(representation["id"])),
        email=str(representation.get("email")),
        username=str(representation.get("username")),
        display_name=name,
        created=created,
    )


def _unavailable(exc: Exception) -> DependencyUnavailable:
    log.error("keycloak_admin_failed", error=type(exc).__name__, status=getattr(exc, "response_code", None))
    return DependencyUnavailable(
        "The identity provider could not complete the request; nothing was changed. Retry shortly.",
        extra={"dependency": "keycloak"},
    )
