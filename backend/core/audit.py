"""The audit trail: append-only, per organization, hash-chained.

Services call :func:`record` inside their unit of work, so an event commits or rolls back with the change
it describes. Each event's hash covers its content and the previous event's hash; a per-organization
advisory lock (held to commit) serializes writers so two transactions cannot both extend the same link.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from backend.core.auth import Principal
from backend.core.logging import log_context
from backend.core.models import tenant_fk, utcnow

GENESIS_HASH = "0" * 64


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"
    __table_args__ = (tenant_fk("org_id", ondelete="RESTRICT"), UniqueConstraint("org_id", "seq"))

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True))
    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    occurred_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    actor_user_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True)))
    actor_client_id: str | None = Field(default=None, sa_column=Column(String(255)))
    action: str = Field(sa_column=Column(String(100), nullable=False))
    resource_type: str = Field(sa_column=Column(String(100), nullable=False))
    resource_id: str = Field(sa_column=Column(String(255), nullable=False))
    request_id: str | None = Field(default=None, sa_column=Column(String(128)))
    changes: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    prev_hash: str = Field(sa_column=Column(String(64), nullable=False))
    hash: str = Field(sa_column=Column(String(64), nullable=False))


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return str(value)


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, Any]:
    """A compact change set: ``{field: [old, new]}`` for fields that differ."""
    before, after = before or {}, after or {}
    changed: dict[str, Any] = {}
    for key in sorted(set(before) | set(after)):
        old, new = _jsonable(before.get(key)), _jsonable(after.get(key))
        if old != new:
            changed[key] = [old, new]
    return changed


def event_hash(event: AuditEvent) -> str:
    payload = {
        "org_id": str(event.org_id),
        "seq": event.seq,
        "occurred_at": event.occurred_at.isoformat(),
        "actor_user_id": str(event.actor_user_id) if event.actor_user_id else None,
        "actor_client_id": event.actor_client_id,
        "action": event.action,
        "resource_type": event.resource_type,
        "resource_id": event.resource_id,
        "request_id": event.request_id,
        "changes": event.changes,
        "prev_hash": event.prev_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


_LOCK_CHAIN = text("SELECT pg_advisory_xact_lock(hashtextextended('audit:' || :org_id, 0))")


async def record(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    actor: Principal | None,
    action: str,
    resource_type: str,
    resource_id: object,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> AuditEvent:
    await session.execute(_LOCK_CHAIN, {"org_id": str(org_id)})
    last = (
        await session.execute(
            select(AuditEvent.seq, AuditEvent.hash)  # type: ignore[call-overload]
            .where(AuditEvent.org_id == org_id)
            .order_by(AuditEvent.seq.desc())  # type: ignore[attr-defined]
            .limit(1)
        )
    ).first()
    changes = diff(before, after)
    event = AuditEvent(
        org_id=org_id,
        seq=(last.seq + 1) if last else 1,
        # Microsecond precision round-trips exactly through timestamptz, so the hash can be recomputed.
        occurred_at=utcnow(),
        actor_user_id=actor.subject if actor else None,
        actor_client_id=actor.client_id if actor else None,
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id),
        request_id=log_context().get("request_id"),
        changes=changes or None,
        prev_hash=last.hash if last else GENESIS_HASH,
        hash="",
    )
    event.hash = event_hash(event)
    session.add(event)
    await session.flush()
    return event


class TenantContext(Protocol):
    """What a service's context offers: its session, its organization and who is acting."""

    session: AsyncSession
    principal: Principal

    @property
    def org_id(self) -> uuid.UUID: ...


async def record_in(
    ctx: TenantContext,
    *,
    action: str,
    resource_type: str,
    resource_id: object,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """:func:`record` for the acting context's organization and principal."""
    return await record(
        ctx.session,
        org_id=ctx.org_id,
        actor=ctx.principal,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        before=before,
        after=after,
    )


@dataclass(frozen=True)
class ChainReport:
    org_id: uuid.UUID
    events: int
    broken_seq: int | None = None
    broken_id: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


async def verify_chain(session: AsyncSession, org_id: uuid.UUID, *, batch_size: int = 5000) -> ChainReport:
    """Recompute the chain in order and report the first event that does not fit."""
    expected_prev, expected_seq, count = GENESIS_HASH, 1, 0
    stream = await session.stream_scalars(
        select(AuditEvent)
        .where(AuditEvent.org_id == org_id)  # type: ignore[arg-type]
        .order_by(AuditEvent.seq)  # type: ignore[arg-type]
        .execution_options(yield_per=batch_size)
    )
    async for event in stream:
        count += 1
        reason = None
        if event.seq != expected_seq:
            reason = f"sequence gap: expected {expected_seq}, found {event.seq}"
        elif event.prev_hash != expected_prev:
            reason = "prev_hash does not match the previous event's hash"
        elif event_hash(event) != event.hash:
            reason = "content does not match its hash (the row was altered)"
        if reason:
            return ChainReport(org_id, count, broken_seq=event.seq, broken_id=event.id, reason=reason)
        expected_prev, expected_seq = event.hash, event.seq + 1
    return ChainReport(org_id, count)


# --- anchors: the chain's head, signed and kept where the runtime role cannot rewrite it ---------------
#
# A hash chain proves that no event was changed or removed *before* the newest one; it cannot notice that
# the newest events were deleted (the shorter chain still verifies). An anchor is a signed statement of the
# head at one moment (sequence, event id, hash, count); ``audit verify`` then demands that the chain still
# holds every anchored head with the same hash. Anchors are written at every period lock and on a schedule,
# into ``audit_anchors``, which a trigger keeps append-only for every role (docs/security.md).

ANCHOR_TYPE = "worktime.audit-anchor"
ANCHOR_REASONS = ("period_lock", "schedule", "manual")


class AuditAnchor(SQLModel, table=True):
    __tablename__ = "audit_anchors"
    __table_args__ = (tenant_fk("org_id", ondelete="RESTRICT"), PrimaryKeyConstraint("org_id", "id"))

    org_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(always=True), nullable=False))
    head_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    head_event_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    head_hash: str = Field(sa_column=Column(String(64), nullable=False))
    events: int = Field(sa_column=Column(BigInteger, nullable=False))
    reason: str = Field(sa_column=Column(String(32), nullable=False))
    anchored_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    key_id: str = Field(sa_column=Column(String(32), nullable=False))
    #: The signed statement itself (``signature`` included), exactly as it was signed.
    statement: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))


class Signer(Protocol):
    """Signs a statement for one organization; returns it with its ``signature`` member added."""

    async def __call__(self, statement: dict[str, Any]) -> dict[str, Any]: ...


class SignatureCheck(Protocol):
    """Why a signed statement does not verify for its organization, or None when it does."""

    async def __call__(self, statement: dict[str, Any]) -> str | None: ...


async def write_anchor(
    session: AsyncSession, org_id: uuid.UUID, *, reason: str, sign: Signer, only_if_moved: bool = False
) -> AuditAnchor | None:
    """Anchor the organization's current head; None when there is nothing (new) to anchor.

    Holds the chain's lock, so no event can slip in between reading the head and signing it.
    """
    if reason not in ANCHOR_REASONS:
        raise ValueError(f"unknown anchor reason {reason!r}")
    await session.execute(_LOCK_CHAIN, {"org_id": str(org_id)})
    head = (
        await session.execute(
            select(AuditEvent.seq, AuditEvent.id, AuditEvent.hash)  # type: ignore[call-overload]
            .where(AuditEvent.org_id == org_id)
            .order_by(AuditEvent.seq.desc())  # type: ignore[attr-defined]
            .limit(1)
        )
    ).first()
    if head is None:
        return None
    if only_if_moved:
        latest = await latest_anchor(session, org_id)
        if latest is not None and latest.head_seq == head.seq and latest.head_hash == head.hash:
            return None
    count = await session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.org_id == org_id)  # type: ignore[arg-type]
    )
    anchored_at = utcnow()
    statement = await sign(
        {
            "type": ANCHOR_TYPE,
            "version": 1,
            "org_id": str(org_id),
            "head_seq": head.seq,
            "head_event_id": head.id,
            "head_hash": head.hash,
            "events": int(count or 0),
            "reason": reason,
            "anchored_at": anchored_at.isoformat(),
        }
    )
    anchor = AuditAnchor(
        org_id=org_id,
        head_seq=head.seq,
        head_event_id=head.id,
        head_hash=head.hash,
        events=int(count or 0),
        reason=reason,
        anchored_at=anchored_at,
        key_id=str(statement["signature"]["key_id"]),
        statement=statement,
    )
    session.add(anchor)
    await session.flush()
    return anchor


async def latest_anchor(session: AsyncSession, org_id: uuid.UUID) -> AuditAnchor | None:
    found = await session.scalars(
        select(AuditAnchor)
        .where(AuditAnchor.org_id == org_id)  # type: ignore[arg-type]
        .order_by(AuditAnchor.id.desc())  # type: ignore[union-attr]
        .limit(1)
    )
    return found.first()


@dataclass(frozen=True)
class AnchorReport:
    org_id: uuid.UUID
    anchors: int
    latest: AuditAnchor | None = None
    broken_anchor_id: int | None = None
    kind: str | None = None  # "truncated", "rewritten", "signature"
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.kind is None


_MIRRORED = ("head_seq", "head_event_id", "head_hash", "events", "reason")


def _row_differs(anchor: AuditAnchor) -> str | None:
    statement = anchor.statement
    if statement.get("type") != ANCHOR_TYPE or statement.get("org_id") != str(anchor.org_id):
        return "its statement is not an anchor of this organization"
    for name in _MIRRORED:
        if statement.get(name) != getattr(anchor, name):
            return f"its {name} column differs from the signed statement"
    return None


async def verify_anchors(
    session: AsyncSession, org_id: uuid.UUID, *, signature_problem: SignatureCheck
) -> AnchorReport:
    """Every anchor's signature verifies, and the chain still holds every anchored head with its hash.

    Reports the first anchor that fails, oldest first. (Run :func:`verify_chain` too: anchors prove the
    tail is still there, the chain proves nothing before it changed.)
    """
    anchors = list(
        await session.scalars(
            select(AuditAnchor).where(AuditAnchor.org_id == org_id).order_by(AuditAnchor.id)  # type: ignore[arg-type]
        )
    )
    if not anchors:
        return AnchorReport(org_id, 0)
    seqs = {anchor.head_seq for anchor in anchors}
    present = {
        row.seq: (row.id, row.hash)
        for row in await session.execute(
            select(AuditEvent.seq, AuditEvent.id, AuditEvent.hash).where(  # type: ignore[call-overload]
                AuditEvent.org_id == org_id,
                AuditEvent.seq.in_(seqs),  # type: ignore[attr-defined]
            )
        )
    }
    last_seq = await session.scalar(
        select(func.max(AuditEvent.seq)).where(AuditEvent.org_id == org_id)  # type: ignore[arg-type]
    )
    latest = anchors[-1]
    for anchor in anchors:
        where = f"anchor #{anchor.id} (seq={anchor.head_seq}, {anchor.reason}, {anchor.anchored_at.isoformat()})"
        problem = await signature_problem(anchor.statement) or _row_differs(anchor)
        if problem:
            return AnchorReport(org_id, len(anchors), latest, anchor.id, "signature", f"{where}: {problem}")
        found = present.get(anchor.head_seq)
        if found is None:
            ends = f"seq={last_seq}" if last_seq is not None else "no events at all"
            return AnchorReport(
                org_id,
                len(anchors),
                latest,
                anchor.id,
                "truncated",
                f"truncated after {where}: the anchored head is gone, the chain now ends at {ends}",
            )
        if found != (anchor.head_event_id, anchor.head_hash):
            return AnchorReport(
                org_id,
                len(anchors),
                latest,
                anchor.id,
                "rewritten",
                f"{where}: event seq={anchor.head_seq} is no longer the anchored event (id or hash differs)",
            )
    return AnchorReport(org_id, len(anchors), latest)
