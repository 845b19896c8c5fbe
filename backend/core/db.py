"""Engines, sessions and the unit of work.

One request = one transaction. Its first statement binds the tenant context (``app.org_id``,
``app.user_id``) with ``set_config(..., true)`` so the setting dies with the transaction and never
leaks to the next user of a pooled connection. Row-level security policies read those settings.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Executable, Result, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from backend.core import jobs, metrics, storage
from backend.core.errors import DependencyUnavailable
from backend.settings import Settings

_BIND_TENANT = text("SELECT set_config('app.org_id', :org_id, true), set_config('app.user_id', :user_id, true)")


def create_engine(url: str, settings: Settings, *, pool_size: int | None = None) -> AsyncEngine:
    server_settings = {"application_name": "worktime"}
    connect_args: dict[str, object] = {"server_settings": server_settings, "timeout": 5}
    if settings.database_behind_pgbouncer:
        # Consecutive transactions may run on different server connections: a statement prepared on
        # one is unknown on the next, so nothing is cached and every name is unique. PgBouncer refuses
        # untracked startup parameters, so the timeout is the pooler's job.
        connect_args.update(
            statement_cache_size=0,
            prepared_statement_cache_size=0,
            prepared_statement_name_func=lambda: f"__worktime_{uuid.uuid4().hex}__",
        )
    else:
        server_settings["statement_timeout"] = str(settings.database_statement_timeout_ms)
    engine = create_async_engine(
        url,
        pool_size=pool_size or settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        # No pre-ping: it costs a round trip on every checkout. A connection that died with its
        # server fails its request (503) and SQLAlchemy then invalidates the pool.
        pool_pre_ping=False,
        connect_args=connect_args,
    )
    metrics.observe_pool(engine)
    return engine


#: ``session.info`` key of a :meth:`Database.single_statement` session.
SINGLE_STATEMENT = "single_statement"


class NeedsTransaction(Exception):
    """Raised inside a single-statement session by code that must write; the caller starts over in a
    transaction."""


class Database:
    """The runtime engine (the API's non-owner role) and its session factory."""

    def __init__(self, settings: Settings, *, pool_size: int | None = None) -> None:
        self.engine = create_engine(settings.database_url, settings, pool_size=pool_size)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        # The same pool, connections checked out in autocommit: no BEGIN, no COMMIT. Not behind a
        # PgBouncer that cannot track prepared statements: asyncpg prepares and executes in two steps,
        # which only a transaction keeps on one server connection there.
        self._single_statement = (
            self.sessionmaker
            if settings.database_behind_pgbouncer
            else async_sessionmaker(
                self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False, autoflush=False
            )
        )

    async def dispose(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One transaction: commits on success, rolls back on error. Jobs sent inside it are outbox
        rows of this transaction (see backend/core/jobs.py). Its first statement must bind the tenant
        (see :func:`bind_tenant`); the tenancy layer does that together with its context lookup, in one
        round trip."""
        async with self.sessionmaker() as session:
            try:
                async with session.begin():
                    with jobs.buffer(session):
                        yield session
            except BaseException:
                # Rolled back (its commit failing included): files written for it go too.
                await storage.settle(session, committed=False)
                raise
            await storage.settle(session, committed=True)

    @asynccontextmanager
    async def single_statement(self) -> AsyncIterator[AsyncSession]:
        """A session for a read that is one statement binding its own tenant (``app_enter``): the statement
        is its own implicit transaction, one round trip instead of three (``BEGIN``, it, ``COMMIT``). Its
        ``set_config(…, true)`` ends with it, so a second statement would run with no tenant bound and
        row-level security would show it no rows: it fails closed, never open. Behind PgBouncer in
        transaction pooling the statement is a whole transaction, on one server connection, as it must
        be; but PgBouncer before 1.21 cannot track prepared statements, and asyncpg prepares and then
        executes, so behind it (``database_behind_pgbouncer``) the read keeps its transaction. Code that
        would write raises :class:`NeedsTransaction` instead (see ``SINGLE_STATEMENT``)."""
        async with self._single_statement() as session:
            session.info[SINGLE_STATEMENT] = True
            yield session

    @asynccontextmanager
    async def unit_of_work(
        self, *, org_id: uuid.UUID | None = None, user_id: uuid.UUID | None = None
    ) -> AsyncIterator[AsyncSession]:
        """:meth:`transaction`, tenant-bound from its first statement (jobs, seeding, operator tools)."""
        async with self.transaction() as session:
            await bind_tenant(session, org_id=org_id, user_id=user_id)
            yield session


async def execute_first(
    session: AsyncSession, statement: Executable, params: Mapping[str, Any] | None = None
) -> Result[Any]:
    """Run a transaction's first statement, which also checks a connection out of the pool: a refused
    or unreachable server (asyncpg raises those as bare ``OSError``) becomes a 503 here."""
    try:
        return await session.execute(statement, params)
    except OSError as exc:
        raise DependencyUnavailable(
            "The database is unavailable; retry shortly.",
            headers={"Retry-After": "5"},
            extra={"dependency": "postgres"},
        ) from exc


async def bind_tenant(session: AsyncSession, *, org_id: uuid.UUID | None, user_id: uuid.UUID | None) -> None:
    """Set (or re-point, inside the same transaction) the tenant context RLS policies read."""
    await execute_first(
        session,
        _BIND_TENANT,
        {"org_id": str(org_id) if org_id else "", "user_id": str(user_id) if user_id else ""},
    )
