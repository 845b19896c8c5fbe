"""Keycloak Organizations as a mirror of the platform's organizations and memberships.

Postgres is the source of truth; Keycloak holds a copy so that its organization features work: identity
providers linked to an organization, organization domains, and the ``organization`` claim. Each platform
organization has one Keycloak organization whose ``alias`` is the platform organization's id (aliases are
unique and immutable in Keycloak, as our ids are), whose ``name`` is the slug (unique on both sides) and
whose ``description`` is the display name; an archived organization is disabled there. Active members
are Keycloak organization members.

Callers invoke these methods outside any database transaction (no pooled connection waits on Keycloak).
A Keycloak organization whose alias names no platform organization is stale (left by a database that
was reset, or by a compensation that failed): creation replaces it, and ``sso reconcile`` removes it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import structlog
from fastapi import Depends, Request
from keycloak.exceptions import KeycloakConnectionError, KeycloakError, KeycloakGetError, KeycloakPostError

from backend.core.errors import DependencyUnavailable
from backend.settings import Settings
from keycloak import KeycloakAdmin, KeycloakOpenIDConnection

log = structlog.get_logger(__name__)

#: The Keycloak organization attribute that names the platform organization (searchable with ``q``).
ORG_ATTRIBUTE = "worktime_org_id"
RECONCILE_CONCURRENCY = 4

#: ``await is_stale(org_id)``: True when no platform organization has this id.
StaleCheck = Callable[[uuid.UUID | None], Awaitable[bool]]


def admin_client(settings: Settings) -> KeycloakAdmin:
    """The backend's service-account admin client (share one per process: its token refresh has no lock)."""
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
    return KeycloakAdmin(connection=connection)


@dataclass(frozen=True, slots=True)
class OrgMirror:
    """What Keycloak should hold for one platform organization."""

    org_id: uuid.UUID
    slug: str
    name: str
    archived: bool
    member_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    #: Its verified email domains (the reconcile passes them); None: leave Keycloak's domains alone.
    domains: frozenset[str] | None = None

    def representation(self) -> dict[str, Any]:
        return {
            "name": self.slug,
            "alias": str(self.org_id),
            "description": self.name,
            "enabled": not self.archived,
            "attributes": {ORG_ATTRIBUTE: [str(self.org_id)]},
        }


@dataclass(slots=True)
class ReconcileReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    members_added: list[str] = field(default_factory=list)
    members_removed: list[str] = field(default_factory=list)
    domains_fixed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(
            (self.created, self.updated, self.removed, self.members_added, self.members_removed, self.domains_fixed)
        )

    def lines(self) -> list[str]:
        # Organizations are synced concurrently: sorted, the report reads the same on every run.
        out = [f"created organization {x}" for x in sorted(self.created)]
        out += [f"updated organization {x}" for x in sorted(self.updated)]
        out += [f"removed stale organization {x}" for x in sorted(self.removed)]
        out += [f"added member {x}" for x in sorted(self.members_added)]
        out += [f"removed member {x}" for x in sorted(self.members_removed)]
        out += [f"fixed domains of {x}" for x in sorted(self.domains_fixed)]
        return out or ["nothing to change: Keycloak matches the platform"]


class NameTaken(Exception):
    """A live platform organization's Keycloak copy already has this slug."""


class Directory:
    """Keycloak's organizations, driven from the platform's rows. Every failure to reach Keycloak
    becomes a 503 (:class:`DependencyUnavailable`) for the caller."""

    def __init__(self, admin: KeycloakAdmin) -> None:
        self.admin = admin

    # --- organizations ------------------------------------------------------------------------------

    async def find(self, org_id: uuid.UUID) -> dict[str, Any] | None:
        """The Keycloak organization mirroring ``org_id``, or None."""
        try:
            found = await self.admin.a_get_organizations(
                {"q": f"{ORG_ATTRIBUTE}:{org_id}", "briefRepresentation": False, "max": 2}
            )
        except KeycloakError as exc:
            raise unavailable(exc) from None
        for org in found:
            if org.get("alias") == str(org_id):
                return dict(org)
        return None

    async def create(self, mirror: OrgMirror, *, is_stale: StaleCheck) -> str:
        """Create the Keycloak organization for a platform organization about to be stored; returns its
        Keycloak id. A Keycloak organization already holding the slug is replaced when ``is_stale`` says
        the platform organization it names is gone."""
        try:
            try:
                return await self._create(mirror)
            except KeycloakPostError as exc:
                if exc.response_code != 409:
                    raise
                holder = await self._by_name(mirror.slug)
                if holder is None:
                    raise
                if not await is_stale(_platform_id(holder)):
                    raise NameTaken(mirror.slug) from None
                log.warning("keycloak_org_stale_replaced", alias=holder.get("alias"), slug=mirror.slug)
                await self.admin.a_delete_organization(str(holder["id"]))
                return await self._create(mirror)
        except KeycloakError as exc:
            raise unavailable(exc) from None

    async def _create(self, mirror: OrgMirror) -> str:
        kc_id = await self.admin.a_create_organization(mirror.representation())
        if not kc_id:
            found = await self._by_name(mirror.slug)
            if found is None:
                raise KeycloakGetError(error_message="organization not found after creation", response_code=404)
            kc_id = str(found["id"])
        return str(kc_id)

    async def _by_name(self, slug: str) -> dict[str, Any] | None:
        for org in await self.admin.a_get_organizations({"search": slug, "exact": True, "briefRepresentation": False}):
            if org.get("name") == slug:
                return dict(org)
        return None

    async def delete(self, kc_id: str) -> None:
        """Undo a creation whose database step failed (best effort: reconcile removes what is left)."""
        try:
            await self.admin.a_delete_organization(kc_id)
        except KeycloakError:
            log.warning("keycloak_org_compensation_failed", keycloak_org_id=kc_id)

    # --- members ------------------------------------------------------------------------------------

    async def add_member(self, kc_id: str, user_id: uuid.UUID) -> None:
        """Make ``user_id`` a member of the Keycloak organization ``kc_id`` (already one, or no such
        Keycloak account: nothing to do)."""
        try:
            await self.admin.a_organization_user_add(str(user_id), kc_id)
        except KeycloakPostError as exc:
            if exc.response_code not in (404, 409):
                raise unavailable(exc) from None
        except KeycloakError as exc:
            raise unavailable(exc) from None

    async def member_ids(self, kc_id: str) -> set[uuid.UUID]:
        members: set[uuid.UUID] = set()
        first, size = 0, 100
        while True:
            page = await self.admin.a_get_organization_members(kc_id, {"first": first, "max": size})
            for member in page:
                members.add(uuid.UUID(str(member["id"])))
            if len(page) < size:
                return members
            first += size

    # --- drift ----------------------------------------------------------------------------------------

    async def _all(self) -> dict[str, dict[str, Any]]:
        existing: dict[str, dict[str, Any]] = {}
        first, size = 0, 100
        while True:
            page = await self.admin.a_get_organizations({"first": first, "max": size, "briefRepresentation": False})
            for org in page:
                existing[str(org.get("alias"))] = dict(org)
            if len(page) < size:
                return existing
            first += size

    async def sync(
        self, mirror: OrgMirror, *, dry_run: bool = False, report: ReconcileReport | None = None
    ) -> ReconcileReport:
        """Make one Keycloak organization match ``mirror`` (name, state, members)."""
        report = report if report is not None else ReconcileReport()
        try:
            await self._sync(mirror, await self.find(mirror.org_id), report, dry_run=dry_run)
        except KeycloakError as exc:
            raise unavailable(exc) from None
        return report

    async def set_domain(self, org_id: uuid.UUID, domain: str, *, present: bool) -> None:
        """Add a verified email domain to the organization's Keycloak copy, or remove it."""
        try:
            current = await self.find(org_id)
            if current is None:
                if not present:
                    return
                raise DependencyUnavailable(
                    "The organization's copy in the identity provider is missing; run `sso reconcile` and retry.",
                    extra={"dependency": "keycloak"},
                )
            domains = [d for d in current.get("domains") or [] if d.get("name") != domain]
            if present:
                domains.append({"name": domain, "verified": True})
            elif len(domains) == len(current.get("domains") or []):
                return
            await self.admin.a_update_organization(str(current["id"]), {**current, "domains": domains})
        except KeycloakError as exc:
            raise unavailable(exc) from None

    async def forget(self, org_id: uuid.UUID) -> bool:
        """Remove the Keycloak organization of a platform organization that no longer exists."""
        try:
            current = await self.find(org_id)
            if current is None:
                return False
            await self.admin.a_delete_organization(str(current["id"]))
            return True
        except KeycloakError as exc:
            raise unavailable(exc) from None

    async def delete_idp(self, alias: str) -> bool:
        """Remove an identity provider (its organization link and users' links go with it), then its own
        first-login flow (backend/sso/keycloak.py); False if the provider was gone."""
        found = True
        try:
            await self.admin.a_delete_idp(alias)
        except KeycloakError as exc:
            if getattr(exc, "response_code", None) != 404:
                raise unavailable(exc) from None
            found = False
        try:
            for flow in await self.admin.a_get_authentication_flows():
                if flow.get("alias") == link_flow_alias(alias):
                    await self.admin.a_delete_authentication_flow(str(flow["id"]))
        except KeycloakError as exc:
            raise unavailable(exc) from None
        return found

    async def delete_account(self, user_id: uuid.UUID) -> bool:
        """Remove a Keycloak user for good (offboarding: one who belonged to no other organization)."""
        try:
            await self.admin.a_delete_user(str(user_id))
        except KeycloakError as exc:
            if getattr(exc, "response_code", None) == 404:
                return False
            raise unavailable(exc) from None
        return True

    async def reconcile(self, wanted: list[OrgMirror], *, dry_run: bool = False) -> ReconcileReport:
        """Make Keycloak match ``wanted`` (every platform organization with its active members): create
        missing organizations, fix names and states, remove stale ones, add and remove members."""
        report = ReconcileReport()
        try:
            existing = await self._all()
            by_id = {str(m.org_id) for m in wanted}
            for alias, org in existing.items():
                if alias not in by_id and ORG_ATTRIBUTE in (org.get("attributes") or {}):
                    report.removed.append(f"{org.get('name')} ({alias})")
                    if not dry_run:
                        await self.admin.a_delete_organization(str(org["id"]))
            # Each organization costs a few round trips; a handful in flight makes a realm of thousands
            # minutes faster without crowding Keycloak.
            gate = asyncio.Semaphore(RECONCILE_CONCURRENCY)

            async def sync_one(mirror: OrgMirror) -> None:
                async with gate:
                    await self._sync(mirror, existing.get(str(mirror.org_id)), report, dry_run=dry_run)

            async with asyncio.TaskGroup() as group:
                for mirror in wanted:
                    group.create_task(sync_one(mirror))
        except* KeycloakError as failures:  # the first failure stands for the rest (they share a cause)
            raise unavailable(failures.exceptions[0]) from None
        return report

    async def _sync(
        self, mirror: OrgMirror, current: dict[str, Any] | None, report: ReconcileReport, *, dry_run: bool
    ) -> None:
        label = f"{mirror.slug} ({mirror.org_id})"
        have: set[uuid.UUID] = set()
        if current is None:
            report.created.append(label)
            if dry_run:
                report.members_added += [f"{u} to {mirror.slug}" for u in sorted(mirror.member_ids)]
                return
            kc_id = await self._create(mirror)
            current = await self.admin.a_get_organization(kc_id) if mirror.domains else None
        else:
            kc_id = str(current["id"])
        if current is not None:
            wanted = mirror.representation()
            domains = list(current.get("domains") or [])
            verified = {str(d.get("name")) for d in domains if d.get("verified")}
            fix_domains = mirror.domains is not None and verified != mirror.domains
            if mirror.domains is not None and fix_domains:
                added, dropped = sorted(mirror.domains - verified), sorted(verified - mirror.domains)
                changes = [*(f"+{d}" for d in added), *(f"-{d}" for d in dropped)]
                report.domains_fixed.append(f"{label}: {', '.join(changes)}")
                domains = [{"name": d, "verified": True} for d in sorted(mirror.domains)]
            renamed = any(current.get(k) != wanted[k] for k in ("name", "description", "enabled"))
            if renamed and label not in report.created:
                report.updated.append(label)
            if (renamed or fix_domains) and not dry_run:
                # Keycloak's PUT replaces the organization: its domains go with it.
                await self.admin.a_update_organization(kc_id, {**current, **wanted, "domains": domains})
            have = await self.member_ids(kc_id)
        for user_id in sorted(mirror.member_ids - have):
            if dry_run:
                report.members_added.append(f"{user_id} to {mirror.slug}")
                continue
            try:
                await self.admin.a_organization_user_add(str(user_id), kc_id)
            except KeycloakPostError as exc:
                if exc.response_code in (404, 409):
                    continue  # no Keycloak account behind this row (test or imported data): nothing to mirror
                raise
            report.members_added.append(f"{user_id} to {mirror.slug}")
        for user_id in sorted(have - mirror.member_ids):
            report.members_removed.append(f"{user_id} from {mirror.slug}")
            if not dry_run:
                await self.admin.a_organization_user_remove(str(user_id), kc_id)


def _platform_id(org: dict[str, Any]) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(org.get("alias")))
    except ValueError:
        return None


def unavailable(exc: Exception) -> DependencyUnavailable:
    log.error("keycloak_admin_failed", error=type(exc).__name__, status=getattr(exc, "response_code", None))
    if isinstance(exc, KeycloakConnectionError):
        message = "The identity provider cannot be reached; nothing was changed. Retry shortly."
    else:
        message = "The identity provider could not complete the request; nothing was changed. Retry shortly."
    return DependencyUnavailable(message, extra={"dependency": "keycloak"})


def link_flow_alias(alias: str) -> str:
    """The first-login flow each identity provider gets (backend/sso/keycloak.py makes it)."""
    return f"worktime-sso-{alias}"


def directory_of(request: Request) -> Directory:
    directory: Directory = request.app.state.directory
    return directory


CurrentDirectory = Annotated[Directory, Depends(directory_of)]
