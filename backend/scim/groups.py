"""The SCIM ``Groups`` resource (RFC 7644 section 3): the organization's identity provider creates,
reads, lists, renames, fills, empties and deletes its groups.

A group's members are SCIM Users of the organization (memberships: ``members[].value`` is the person's
user id, as ``GET /Users`` gives it); anything else is a 400 ``invalidValue`` and nothing is written.
A group's ``displayName`` is unique in the organization regardless of case (409 ``uniqueness``).

The groups drive roles: a person's SCIM groups count as values of the ``groups`` claim for the
organization's role mappings. Whenever a change touches who is in a group or what it is called (or
deletes it), the people concerned get the role their groups now map to, by the sign-in's rules
(``backend/sso/login.py`` through the SSO service), in the same transaction. Every change is an audit
event with no acting user and ``via: scim``.

PATCH accepts what Okta and Azure AD send: ``op`` in any case; ``add``/``remove`` of ``members`` with a
list of ``{"value": id}``; ``remove`` with ``members[value eq "id"]``, or ``members`` alone (everyone, or
the listed ones when a value is given, as Azure does); ``replace`` of ``displayName``, ``externalId`` or
``members`` by path, or without a path with an object (Okta's ``{"id": …, "displayName": …}``).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from scim2_filter_parser import ast
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser, SCIMParserError
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from backend.core import audit
from backend.core.models import utcnow
from backend.scim import service
from backend.scim.models import ScimGroup, ScimGroupMember
from backend.scim.protocol import MAX_RESULTS, ScimError
from backend.scim.users import LIST_SCHEMA, LOCK_MEMBERSHIPS, PATCH_SCHEMA, VIA, Scim, body_field, iso_time
from backend.sso import service as sso
from backend.tenancy.models import Membership
from backend.tenancy.models import User as Account

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
MAX_NAME = 255
_KNOWN = {"schemas", "id", "externalid", "meta", "displayname", "members"}
_MEMBER_PATH = re.compile(r"^\s*members\s*\[(.*)\]\s*$", re.IGNORECASE | re.DOTALL)


# -- representation -----------------------------------------------------------------------------


def _resource(scim: Scim, group: ScimGroup, members: list[tuple[uuid.UUID, str]] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "id": str(group.id), "displayName": group.display_name}
    if group.external_id is not None:
        body["externalId"] = group.external_id
    if members is not None:
        body["members"] = [
            {"value": str(user_id), "display": shown, "type": "User", "$ref": f"{scim.base_url}/Users/{user_id}"}
            for user_id, shown in members
        ]
    body["meta"] = {
        "resourceType": "Group",
        "created": iso_time(group.created_at),
        "lastModified": iso_time(group.updated_at),
        "location": f"{scim.base_url}/Groups/{group.id}",
    }
    return body


Members = list[tuple[uuid.UUID, str]]


async def _members_of(session: AsyncSession, group_ids: list[uuid.UUID]) -> dict[uuid.UUID, Members]:
    """Each group's members as (user id, what to display), by email."""
    found: dict[uuid.UUID, Members] = {group_id: [] for group_id in group_ids}
    if not group_ids:
        return found
    rows = await session.execute(
        select(ScimGroupMember.group_id, Account.id, Account.display_name, Account.email, Account.username)  # type: ignore[call-overload]
        .join(Account, col(Account.id) == col(ScimGroupMember.user_id))
        .where(col(ScimGroupMember.group_id).in_(group_ids))
        .order_by(col(Account.email), col(Account.id))
    )
    for group_id, user_id, display_name, email, username in rows:
        found[group_id].append((user_id, display_name or email or username))
    return found


def _wants_members(excluded: str | None) -> bool:
    names = {part.strip().lower() for part in (excluded or "").split(",")}
    return not ({"members", GROUP_SCHEMA.lower() + ":members"} & names)


# -- input --------------------------------------------------------------------------------------


def _check_attributes(body: dict[str, Any]) -> None:
    unknown = sorted(key for key in body if key.lower() not in _KNOWN and not key.lower().startswith("urn:"))
    if unknown:
        raise ScimError(400, f"Unknown attribute(s): {', '.join(unknown)}.", "invalidSyntax")


def _display_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ScimError(400, "displayName is required: the group's name.", "invalidValue")
    if len(value.strip()) > MAX_NAME:
        raise ScimError(400, f"displayName is at most {MAX_NAME} characters.", "invalidValue")
    return value.strip()


def _external_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_NAME:
        raise ScimError(400, f"externalId must be a string of at most {MAX_NAME} characters.", "invalidValue")
    return value or None


def _member_id(raw: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise ScimError(400, f"Member {raw!r} is not a user of this organization.", "invalidValue") from None


def _member_ids(value: Any) -> set[uuid.UUID]:
    """The user ids of a ``members`` value: a list of ``{"value": id}`` (one object is accepted too)."""
    if value is None:
        return set()
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise ScimError(400, 'members must be a list of {"value": user id}.', "invalidValue")
    found: set[uuid.UUID] = set()
    for item in items:
        if not isinstance(item, dict) or body_field(item, "value") is None:
            raise ScimError(400, "Each member needs a value: the user's id.", "invalidValue")
        kind = body_field(item, "type")
        if kind is not None and str(kind).lower() != "user":
            raise ScimError(400, "Groups hold users only (no nested groups).", "invalidValue")
        found.add(_member_id(body_field(item, "value")))
    return found


def _parse(expression: str) -> ast.AST | None:
    try:
        parsed: ast.AST = SCIMParser().parse(SCIMLexer().tokenize(expression))
    except SCIMParserError:
        return None
    return parsed


def _eq_value(node: Any, attributes: tuple[str, ...]) -> tuple[str, str] | None:
    """``(attribute, value)`` of ``<attribute> eq "<value>"`` (possibly wrapped in a filter), else None."""
    while isinstance(node, ast.Filter) and not node.negated and node.namespace is None:
        node = node.expr
    if (
        isinstance(node, ast.AttrExpr)
        and node.value.lower() == "eq"
        and isinstance(node.attr_path, ast.AttrPath)
        and node.attr_path.sub_attr is None
        and node.attr_path.uri in (None, GROUP_SCHEMA)
        and str(node.attr_path.attr_name).lower() in attributes
        and isinstance(node.comp_value, ast.CompValue)
        and isinstance(node.comp_value.value, str)
    ):
        return str(node.attr_path.attr_name).lower(), node.comp_value.value
    return None


def list_filter(expression: str) -> tuple[str, str]:
    """The attribute and value of ``displayName eq "…"`` or ``externalId eq "…"``; else invalidFilter."""
    found = _eq_value(_parse(expression), ("displayname", "externalid"))
    if found is None:
        supported = 'Only the filters displayName eq "<name>" and externalId eq "<id>" are supported.'
        raise ScimError(400, supported, "invalidFilter")
    return found


def _path_member(path: str) -> uuid.UUID | None:
    """The user id in ``members[value eq "<id>"]`` (None: the path is not of that form)."""
    match = _MEMBER_PATH.match(path)
    if match is None:
        return None
    found = _eq_value(_parse(match.group(1)), ("value",))
    if found is None:
        raise ScimError(400, 'Only members[value eq "<user id>"] selects members.', "invalidFilter")
    return _member_id(found[1])


@dataclass
class _Wanted:
    """What a group is to become: starts as it is, and each operation changes it."""

    display_name: str
    external_id: str | None
    members: set[uuid.UUID] = field(default_factory=set)


def _apply_value(wanted: _Wanted, value: Any, *, op: str) -> None:
    """An operation without a path: an object of attributes (Okta's ``replace`` and ``add``)."""
    if not isinstance(value, dict):
        raise ScimError(400, "An operation without a path needs an object value.", "invalidValue")
    _check_attributes(value)
    for key, item in value.items():
        name = key.lower()
        if name == "displayname":
            wanted.display_name = _display_name(item)
        elif name == "externalid":
            wanted.external_id = _external_id(item)
        elif name == "members":
            ids = _member_ids(item)
            wanted.members = ids if op == "replace" else wanted.members | ids
        # id, schemas, meta: read-only and ignored (Okta repeats the id)


def _apply_operation(wanted: _Wanted, operation: Any) -> None:
    if not isinstance(operation, dict):
        raise ScimError(400, "Each operation must be an object.", "invalidSyntax")
    op = str(body_field(operation, "op") or "").lower()
    path, value = body_field(operation, "path"), body_field(operation, "value")
    if op not in ("add", "replace", "remove"):
        raise ScimError(400, f"Unknown operation {op!r}.", "invalidSyntax")
    if path is None:
        if op == "remove":
            raise ScimError(400, "remove needs a path.", "noTarget")
        _apply_value(wanted, value, op=op)
        return
    if not isinstance(path, str):
        raise ScimError(400, "path must be a string.", "invalidPath")
    if path.lower().startswith(GROUP_SCHEMA.lower() + ":"):
        path = path[len(GROUP_SCHEMA) + 1 :]
    selected = _path_member(path)
    if selected is not None:
        if op != "remove":
            raise ScimError(400, 'members[value eq "…"] can only be removed.', "invalidPath")
        wanted.members.discard(selected)
        return
    name = path.strip().lower()
    if name == "members":
        if op == "remove":
            # Azure AD names the members to remove in the value; no value removes everyone.
            wanted.members = wanted.members - _member_ids(value) if value is not None else set()
        elif op == "add":
            wanted.members |= _member_ids(value)
        else:
            wanted.members = _member_ids(value)
    elif name == "displayname":
        if op == "remove":
            raise ScimError(400, "displayName cannot be removed.", "mutability")
        wanted.display_name = _display_name(value)
    elif name == "externalid":
        wanted.external_id = None if op == "remove" else _external_id(value)
    else:
        raise ScimError(400, f"Unknown or read-only attribute {path!r}.", "invalidPath")


def _patch_operations(body: dict[str, Any]) -> list[Any]:
    schemas = body.get("schemas")
    operations = body_field(body, "Operations")
    if not isinstance(schemas, list) or PATCH_SCHEMA not in schemas:
        raise ScimError(400, "Expected the PatchOp schema.", "invalidSyntax")
    if not isinstance(operations, list) or not operations:
        raise ScimError(400, "Expected a PatchOp with a non-empty Operations list.", "invalidSyntax")
    return operations


# -- reads --------------------------------------------------------------------------------------


def _group_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ScimError(404, "No such group.") from None


async def _find(session: AsyncSession, group_id: uuid.UUID, *, lock: bool = False) -> ScimGroup:
    query = select(ScimGroup).where(col(ScimGroup.id) == group_id)
    group = await session.scalar(query.with_for_update() if lock else query)
    if group is None:
        raise ScimError(404, "No such group.")
    return group


async def get_group(scim: Scim, raw_id: str, *, excluded: str | None = None) -> dict[str, Any]:
    async with scim.transaction() as session:
        group = await _find(session, _group_id(raw_id))
        members = (await _members_of(session, [group.id]))[group.id] if _wants_members(excluded) else None
        return _resource(scim, group, members)


async def list_groups(
    scim: Scim, *, filter_: str | None, start_index: int, count: int | None, excluded: str | None = None
) -> dict[str, Any]:
    start = max(1, start_index)
    size = MAX_RESULTS if count is None else min(max(0, count), MAX_RESULTS)
    query = select(ScimGroup)
    if filter_ is not None:
        attribute, value = list_filter(filter_)
        if attribute == "displayname":
            query = query.where(func.lower(col(ScimGroup.display_name)) == value.lower())
        else:
            query = query.where(col(ScimGroup.external_id) == value)
    async with scim.transaction() as session:
        total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
        page = list(
            await session.scalars(
                query.order_by(func.lower(col(ScimGroup.display_name)), col(ScimGroup.id)).offset(start - 1).limit(size)
            )
        )
        members = await _members_of(session, [g.id for g in page]) if _wants_members(excluded) else None
        found = [_resource(scim, g, members[g.id] if members is not None else None) for g in page]
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(found),
        "Resources": found,
    }


# -- changes ------------------------------------------------------------------------------------


async def _current_members(session: AsyncSession, group_id: uuid.UUID) -> set[uuid.UUID]:
    rows = await session.scalars(select(ScimGroupMember.user_id).where(col(ScimGroupMember.group_id) == group_id))  # type: ignore[call-overload]
    return set(rows)


async def _check_members(session: AsyncSession, scim: Scim, ids: set[uuid.UUID]) -> None:
    """Every id must be a SCIM User (a membership) of this organization."""
    if not ids:
        return
    known = set(
        await session.scalars(
            select(Membership.user_id).where(  # type: ignore[call-overload]
                col(Membership.org_id) == scim.org_id, col(Membership.user_id).in_(list(ids))
            )
        )
    )
    strangers = sorted(str(i) for i in ids - known)
    if strangers:
        raise ScimError(400, f"Not a user of this organization: {', '.join(strangers)}.", "invalidValue")


async def _check_name(session: AsyncSession, name: str, *, other_than: uuid.UUID | None = None) -> None:
    query = select(ScimGroup.id).where(func.lower(col(ScimGroup.display_name)) == name.lower())  # type: ignore[call-overload]
    if other_than is not None:
        query = query.where(col(ScimGroup.id) != other_than)
    if await session.scalar(query) is not None:
        raise ScimError(409, f"A group named {name!r} exists already.", "uniqueness")


async def _roles_follow(session: AsyncSession, scim: Scim, people: set[uuid.UUID]) -> None:
    """The people whose SCIM groups changed get the role their groups now map to."""
    if not people:
        return
    names = await service.group_names(session, scim.org_id, people)
    await sso.apply_scim_groups(session, scim.org_id, {person: names.get(person, set()) for person in people})


async def _write(
    session: AsyncSession, scim: Scim, group: ScimGroup, wanted: _Wanted, *, created: bool
) -> dict[str, Any]:
    """Make ``group`` what ``wanted`` says (its members checked), audit it and let roles follow."""
    await _check_members(session, scim, wanted.members)
    await _check_name(session, wanted.display_name, other_than=None if created else group.id)
    before_members = set() if created else await _current_members(session, group.id)
    before = None if created else {"display_name": group.display_name, "external_id": group.external_id}
    renamed = not created and group.display_name != wanted.display_name
    group.display_name, group.external_id, group.updated_at = wanted.display_name, wanted.external_id, utcnow()
    if created:
        session.add(group)
    await session.flush()
    added, removed = wanted.members - before_members, before_members - wanted.members
    if removed:
        await session.execute(
            delete(ScimGroupMember).where(
                col(ScimGroupMember.group_id) == group.id, col(ScimGroupMember.user_id).in_(list(removed))
            )
        )
    if added:
        await session.execute(
            insert(ScimGroupMember)
            .values([{"org_id": scim.org_id, "group_id": group.id, "user_id": user_id} for user_id in sorted(added)])
            .on_conflict_do_nothing()
        )
    after: dict[str, Any] = {"display_name": group.display_name, "external_id": group.external_id}
    if created or renamed or added or removed or before != after:
        await audit.record(
            session,
            org_id=scim.org_id,
            actor=None,
            action="scim_group.created" if created else "scim_group.updated",
            resource_type="scim_group",
            resource_id=group.id,
            before=before,
            after=after
            | {"members_added": sorted(str(i) for i in added), "members_removed": sorted(str(i) for i in removed)}
            | VIA,
        )
    await _roles_follow(session, scim, added | removed | (wanted.members if renamed else set()))
    await session.refresh(group)
    return _resource(scim, group, (await _members_of(session, [group.id]))[group.id])


async def create_group(scim: Scim, body: dict[str, Any]) -> dict[str, Any]:
    _check_attributes(body)
    wanted = _Wanted(
        display_name=_display_name(body_field(body, "displayName")),
        external_id=_external_id(body_field(body, "externalId")),
        members=_member_ids(body_field(body, "members")),
    )
    async with scim.transaction() as session:
        await session.execute(LOCK_MEMBERSHIPS, {"org_id": str(scim.org_id)})
        group = ScimGroup(org_id=scim.org_id, display_name=wanted.display_name, external_id=wanted.external_id)
        return await _write(session, scim, group, wanted, created=True)


async def replace_group(scim: Scim, raw_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """PUT: the group becomes the body (RFC 7644 section 3.5.1): no ``members`` empties it."""
    group_id = _group_id(raw_id)
    _check_attributes(body)
    wanted = _Wanted(
        display_name=_display_name(body_field(body, "displayName")),
        external_id=_external_id(body_field(body, "externalId")),
        members=_member_ids(body_field(body, "members")),
    )
    async with scim.transaction() as session:
        await session.execute(LOCK_MEMBERSHIPS, {"org_id": str(scim.org_id)})
        group = await _find(session, group_id, lock=True)
        return await _write(session, scim, group, wanted, created=False)


async def patch_group(scim: Scim, raw_id: str, body: dict[str, Any]) -> dict[str, Any]:
    group_id = _group_id(raw_id)
    operations = _patch_operations(body)
    async with scim.transaction() as session:
        await session.execute(LOCK_MEMBERSHIPS, {"org_id": str(scim.org_id)})
        group = await _find(session, group_id, lock=True)
        wanted = _Wanted(group.display_name, group.external_id, await _current_members(session, group.id))
        for operation in operations:
            _apply_operation(wanted, operation)
        return await _write(session, scim, group, wanted, created=False)


async def delete_group(scim: Scim, raw_id: str) -> None:
    group_id = _group_id(raw_id)
    async with scim.transaction() as session:
        await session.execute(LOCK_MEMBERSHIPS, {"org_id": str(scim.org_id)})
        group = await _find(session, group_id, lock=True)
        members = await _current_members(session, group.id)
        before = {"display_name": group.display_name, "external_id": group.external_id, "members": len(members)}
        await session.delete(group)
        await session.flush()
        await audit.record(
            session,
            org_id=scim.org_id,
            actor=None,
            action="scim_group.deleted",
            resource_type="scim_group",
            resource_id=group_id,
            before=before,
            after=VIA,
        )
        await _roles_follow(session, scim, members)
