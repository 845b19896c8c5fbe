"""The bare apps ``make bench`` compares the real one with.

Each is a plain FastAPI app factory, written the way a developer would write the simplest version of the
same thing, and served by its own uvicorn process exactly like the real app. They import nothing from the
application except its settings, so they measure FastAPI + uvicorn (+ SQLAlchemy + asyncpg + Postgres)
alone.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import FastAPI, Header, HTTPException
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from backend.settings import Settings

JSON_FACTORY = "backend.bench.baselines:json_app"
SQLALCHEMY_FACTORY = "backend.bench.baselines:sqlalchemy_app"


def json_app() -> FastAPI:
    """A route returning a small JSON dict: the floor under ``/health/live``."""
    app = FastAPI()

    @app.get("/json")
    async def j() -> dict[str, str]:
        return {"status": "ok"}

    return app


metadata = sa.MetaData()
projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("org_id", UUID(as_uuid=True), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("archived_at", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

BIND_TENANT = sa.text("SELECT set_config('app.org_id', :org, true), set_config('app.user_id', :user, true)")


def sqlalchemy_app() -> FastAPI:
    """A tenant-bound primary-key read of a project row through an ``AsyncSession``, as the runtime role
    (so row-level security applies), with the app's pool size and statement timeout."""
    settings = Settings()
    engine = create_async_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        connect_args={"server_settings": {"statement_timeout": str(settings.database_statement_timeout_ms)}},
    )
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/orgs/{org_id}/projects/{project_id}")
    async def read_project(
        org_id: uuid.UUID, project_id: uuid.UUID, x_user_id: Annotated[uuid.UUID, Header()]
    ) -> dict[str, Any]:
        async with sessions() as session, session.begin():
            await session.execute(BIND_TENANT, {"org": str(org_id), "user": str(x_user_id)})
            result = await session.execute(sa.select(projects).where(projects.c.id == project_id))
            row = result.one_or_none()
        if row is None:
            raise HTTPException(status_code=404, detail="Project not found")
        return dict(row._mapping)

    return app
