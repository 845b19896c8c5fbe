"""The SCIM ``Users`` resource (RFC 7644 section 3): the organization's identity provider creates,
reads, lists, deactivates, reactivates and removes the organization's members.

A SCIM User is a membership of the organization: its ``id`` is the person's platform (and Keycloak)
user id, its ``userName`` the email address. Creating one finds or creates the Keycloak account (the
members domain's admin client) and records an active membership with the organization's SSO default
role. ``active: false`` suspends the membership and ends the person's sessions at once through the
back-channel revocation; ``active: true`` restores it with the same role. Deleting removes the
membership (the Keycloak account stays: other organizations may share it). Every change is an audit
event with no acting user and ``via: scim``.

The caller was authenticated by the organization's SCIM secret (``router.scim_caller``); each step runs
in a short transaction bound to the organization, so row-level security keeps it inside the tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from scim2_filter_parser import ast
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser, SCIMParserError
from scim2_models import User
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.core import audit
from backend.core.db import Database, bind_tenant
from backend.core.models import utcnow
from backend.core.revocation import Revocations
from backend.members import service as members
from backend.scim.protocol import MAX_RESULTS, ScimError
from backend.tenancy import mirror
from backend.tenancy.models import Membership
from backend.tenancy.models import User as Account
from backend.tenancy.roles import MembershipStatus, OrgRole

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
VIA = {"via": "scim"}

# Attribute names are case-insensitive (RFC 7643 section 2.1). The core User schema's attributes are
# accepted; only userName, name, displayName and active are kept, the others are ignored.
_KNOWN = {a.name.lower() for a in User.to_schema().attributes or [] if a.name} | {"schemas", "id", "externalid", "meta"}
_DEFAULT_ROLE = text("SELECT default_role FROM sso_settings WHERE org_id = :org_id")
LOCK_MEMBERSHIPS = text("SELECT pg_advisory_xact_lock(hashtextextended('memberships:' || :org_id, 0))")


@dataclass(frozen=True)
class Scim:
    """What a SCIM call works with: the organization, the database, Keycloak, Redis and this
    process's revocations, and the resource base URL for ``meta.location``."""

    org_id: uuid.UUID
    db: Database
    idp: members.IdentityProvider
    redis: Redis
    revocations: Revocations
    base_url: str

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.db.transaction() as session:
            await bind_tenant(session, org_id=self.org_id, user_id=None)
            yield session


# -- representation -----------------------------------------------------------------------------


def iso_time(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def resource(scim: Scim, membership: Membership, user: Account) -> dict[str, Any]:
    email = user.email or user.username
    body: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "id": str(user.id),
        "userName": email,
        "active": membership.status != MembershipStatus.SUSPENDED.value,
        "emails": [{"value": email, "type": "work", "primary": True}],
        "meta": {
            "resourceType": "User",
            "created": iso_time(membership.created_at),
            "lastModified": iso_time(membership.updated_at),
            "location": f"{scim.base_url}/Users/{user.id}",
        },
    }
    if user.display_name:
        body["displayName"] = user.display_name
        body["name"] = {"formatted": user.display_name}
    return body


# -- input --------------------------------------------------------------------------------------


def _check_attributes(body: dict[str, Any]) -> None:
    unknown = sorted(key for key in body if key.lower() not in _KNOWN and not key.lower().startswith("urn:"))
    if unknown:
        raise ScimError(400, f"Unknown attribute(s): {', '.join(unknown)}.", "invalidSyntax")


def body_field(body: dict[str, Any], name: str) -> Any:
    for key, value in body.items():
        if key.lower() == name.lower():
            return value
    return None


def _email(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ScimError(400, "userName is required: the person's email address.", "invalidValue")
    try:
        return members.normalized_email(value.strip())
    except ValueError:
        raise ScimError(400, "userName must be the person's email address.", "invalidValue") from None


def _display_name(body: dict[str, Any]) -> str | None:
    shown = body_field(body, "displayName")
    if isinstance(shown, str) and shown.strip():
        return shown.strip()[:200]
    name = body_field(body, "name")
    if isinstance(name, dict):
        formatted = body_field(name, "formatted")
        if isinstance(formatted, str) and formatted.strip():
            return formatted.strip()[:200]
        parts = [body_field(name, "givenName"), body_field(name, "familyName")]
        joined = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
        return joined[:200] or None
    return None


def _boolean(value: Any) -> bool:
    # Azure AD sends "True"/"False" as strings.
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ScimError(400, "active must be true or false.", "invalidValue")


def user_name_filter(expression: str) -> str:
    """The value of ``userName eq "<value>"``, the one filter supported; anything else is invalidFilter."""
    try:
        parsed = SCIMParser().parse(SCIMLexer().tokenize(expression))
    except SCIMParserError:
        parsed = None
    expr = parsed.expr if isinstance(parsed, ast.Filter) and not parsed.negated else None
    if (
        isinstance(expr, ast.AttrExpr)
        and expr.value.lower() == "eq"
        and isinstance(expr.attr_path, ast.AttrPath)
        and expr.attr_path.sub_attr is None
        and expr.attr_path.uri in (None, USER_SCHEMA)
        and str(expr.attr_path.attr_name).lower() == "username"
        and isinstance(expr.comp_value, ast.CompValue)
        and isinstance(expr.comp_value.value, str)
    ):
        return expr.comp_value.value
    raise ScimError(400, 'Only the filter userName eq "<email>" is supported.', "invalidFilter")


# -- reads --------------------------------------------------------------------------------------


async def _find(session: AsyncSession, user_id: uuid.UUID, *, lock: bool = False) -> tuple[Membership, Account]:
    query = select(Membership, Account).join(Account, col(Account.id) == col(Membership.user_id))
    query = query.where(col(Membership.user_id) == user_id)
    row = (await session.execute(query.with_for_update(of=Membership) if lock else query)).first()
    if row is None:
        raise ScimError(404, "No such user.")
    return row[0], row[1]


def _user_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ScimError(404, "No such user.") from None


async def get_user(scim: Scim, raw_id: str) -> dict[str, Any]:
    async with scim.transaction() as session:
        membership, user = await _find(session, _user_id(raw_id))
        return resource(scim, membership, user)


async def list_users(scim: Scim, *, filter_: str | None, start_index: int, count: int | None) -> dict[str, Any]:
    start = max(1, start_index)
    size = MAX_RESULTS if count is None else min(max(0, count), MAX_RESULTS)
    query = select(Membership, Account).join(Account, col(Account.id) == col(Membership.user_id))
    if filter_ is not None:
        query = query.where(func.lower(col(Account.email)) == user_name_filter(filter_).lower())
    async with scim.transaction() as session:
        total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
        rows = (
            await session.execute(query.order_by(col(Account.email), col(Account.id)).offset(start - 1).limit(size))
        ).all()
        found = [resource(scim, row[0], row[1]) for row in rows]
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(found),
        "Resources": found,
    }


# -- changes ------------------------------------------------------------------------------------


async def _existing_by_email(session: AsyncSession, email: str) -> Membership | None:
    found: Membership | None = await session.scalar(
        select(Membership)
        .join(Account, col(Account.id) == col(Membership.user_id))
        .where(func.lower(col(Account.email)) == email)
    )
    return found


async def create_user(scim: Scim, body: dict[str, Any]) -> dict[str, Any]:
    """POST /Users: find or create the Keycloak account, then record the active membership. As with an
    invitation, Keycloak works with no transaction open, and an account this call created is deleted
    again when recording fails."""
    _check_attributes(body)
    email = _email(body_field(body, "userName"))
    display_name = _display_name(body)
    active = _boolean(body_field(body, "active")) if body_field(body, "active") is not None else True
    async with scim.transaction() as session:
        existing = await _existing_by_email(session, email)
        if existing is not None and existing.status != MembershipStatus.INVITED.value:
            raise ScimError(409, f"{email} is already a user of this organization.", "uniqueness")
    person = await scim.idp.find_or_create(email)
    try:
        async with scim.transaction() as session:
            await session.execute(LOCK_MEMBERSHIPS, {"org_id": str(scim.org_id)})
            role = OrgRole(await session.scalar(_DEFAULT_ROLE, {"org_id": scim.org_id}) or OrgRole.MEMBER.value)
            await session.execute(
                insert(Account)
                .values(id=person.id, email=email, username=person.username, display_name=display_name)
                .on_conflict_do_nothing()
            )
            status = (MembershipStatus.ACTIVE if active else MembershipStatus.SUSPENDED).value
            membership = await session.get(Membership, (scim.org_id, person.id), with_for_update=True)
            before: dict[str, Any] | None = None
            if membership is None:
                membership = Membership(org_id=scim.org_id, user_id=person.id, role=role.value, status=status)
                session.add(membership)
            elif membership.status == MembershipStatus.INVITED.value:  # invited by hand, now provisioned
                before = {"status": membership.status, "role": membership.role}
                membership.status, membership.invite_nonce, membership.updated_at = status, None, utcnow()
            else:
                raise ScimError(409, f"{email} is already a user of this organization.", "uniqueness")
            await session.flush()
            await audit.record(
                session,
                org_id=scim.org_id,
                actor=None,
                action="membership.provisioned",
                resource_type="membership",
                resource_id=person.id,
                before=before,
                after={"status": membership.status, "role": membership.role, "email": email} | VIA,
            )
            mirror.request(scim.org_id)
            user = await session.get(Account, person.id)
            assert user is not None
            await session.refresh(membership)
            return resource(scim, membership, user)
    except BaseException:
        if person.created:
            await scim.idp.delete(person.id)
        raise


def _wanted_active(body: dict[str, Any]) -> bool | None:
    """The ``active`` value a PatchOp asks for (None: it does not touch ``active``). Other known
    attributes are accepted and ignored; unknown ones are an error."""
    schemas = body.get("schemas")
    operations = body_field(body, "Operations")
    if not isinstance(schemas, list) or PATCH_SCHEMA not in schemas:
        raise ScimError(400, "Expected the PatchOp schema.", "invalidSyntax")
    if not isinstance(operations, list) or not operations:
        raise ScimError(400, "Expected a PatchOp with a non-empty Operations list.", "invalidSyntax")
    wanted: bool | None = None
    for operation in operations:
        if not isinstance(operation, dict):
            raise ScimError(400, "Each operation must be an object.", "invalidSyntax")
        op = str(body_field(operation, "op") or "").lower()
        path, value = body_field(operation, "path"), body_field(operation, "value")
        if op not in ("add", "replace", "remove"):
            raise ScimError(400, f"Unknown operation {op!r}.", "invalidSyntax")
        if path is None:
            if not isinstance(value, dict):
                raise ScimError(400, "An operation without a path needs an object value.", "invalidValue")
            _check_attributes(value)
            if body_field(value, "active") is not None:
                wanted = _boolean(body_field(value, "active"))
            continue
        if not isinstance(path, str):
            raise ScimError(400, "path must be a string.", "invalidPath")
        attribute = path.split("[", 1)[0].split(".", 1)[0]
        if attribute.lower().startswith(USER_SCHEMA.lower() + ":"):
            attribute = attribute[len(USER_SCHEMA) + 1 :]
        if attribute.lower() not in _KNOWN or attribute.lower() in ("id", "meta", "schemas"):
            raise ScimError(400, f"Unknown or read-only attribute {path!r}.", "invalidPath")
        if attribute.lower() == "active":
            if op == "remove":
                raise ScimError(400, "active cannot be removed.", "mutability")
            wanted = _boolean(value)
    return wanted


async def patch_user(scim: Scim, raw_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """PATCH /Users/{id}: ``active`` false suspends the membership and ends the person's sessions now;
    true restores it."""
    user_id = _user_id(raw_id)
    wanted = _wanted_active(body)
    suspended = False
    async with scim.transaction() as session:
        await session.execute(LOCK_MEMBERSHIPS, {"org_id": str(scim.org_id)})
        membership, user = await _find(session, user_id, lock=True)
        is_active = membership.status != MembershipStatus.SUSPENDED.value
        if wanted is not None and wanted != is_active:
            before = {"status": membership.status}
            if not wanted:
                await _refuse_last_owner(session, scim, membership, verb="deactivated")
                membership.status, action, suspended = MembershipStatus.SUSPENDED.value, "membership.suspended", True
            else:
                membership.status, action = MembershipStatus.ACTIVE.value, "membership.reactivated"
            membership.updated_at = utcnow()
            await session.flush()
            await audit.record(
                session,
                org_id=scim.org_id,
                actor=None,
                action=action,
                resource_type="membership",
                resource_id=user_id,
                before=before,
                after={"status": membership.status} | VIA,
            )
            mirror.request(scim.org_id)
        answer = resource(scim, membership, user)
    if suspended:  # after the commit: a rolled-back suspension ends nothing
        await members.end_sessions_now(scim.redis, scim.revocations, [user_id])
    return answer


async def _refuse_last_owner(session: AsyncSession, scim: Scim, membership: Membership, *, verb: str) -> None:
    if membership.role != OrgRole.OWNER.value or membership.status != MembershipStatus.ACTIVE.value:
        return
    owners = await session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(
            col(Membership.org_id) == scim.org_id,
            col(Membership.role) == OrgRole.OWNER.value,
            col(Membership.status) == MembershipStatus.ACTIVE.value,
        )
    )
    if int(owners or 0) <= 1:
        raise ScimError(409, f"The organization's last owner cannot be {verb}; make someone else owner first.")


async def delete_user(scim: Scim, raw_id: str) -> None:
    """DELETE /Users/{id}: remove the membership (the Keycloak account stays)."""
    user_id = _user_id(raw_id)
    async with scim.transaction() as session:
        await session.execute(LOCK_MEMBERSHIPS, {"org_id": str(scim.org_id)})
        membership, _ = await _find(session, user_id, lock=True)
        await _refuse_last_owner(session, scim, membership, verb="removed")
        before = {"role": membership.role, "status": membership.status}
        await session.delete(membership)
        await session.flush()
        await audit.record(
            session,
            org_id=scim.org_id,
            actor=None,
            action="membership.removed",
            resource_type="membership",
            resource_id=user_id,
            before=before,
            after=VIA,
        )
        mirror.request(scim.org_id)
