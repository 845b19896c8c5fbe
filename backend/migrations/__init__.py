"""Alembic migrations. They run as the owner role (WORKTIME_DATABASE_OWNER_URL) and grant the runtime
role exactly what it needs; see ``backend migrate``."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

from backend.settings import Settings, get_settings


def alembic_config(settings: Settings | None = None) -> Config:
    settings = settings or get_settings()
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    config.attributes["settings"] = settings
    return config
