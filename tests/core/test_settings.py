"""The settings: grouped by concern, read flat, and documented from their own descriptions."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.settings import SECTIONS, Settings
from backend.settings_docs import render


def test_configuration_doc_is_generated_from_the_settings() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
    assert doc.read_text(encoding="utf-8") == render(), "docs/configuration.md is stale: run `make docs`"


def test_every_field_belongs_to_exactly_one_section() -> None:
    owners: dict[str, str] = {}
    for section in SECTIONS:
        for name in section.model_fields:
            assert name not in owners, f"{name} is in {owners[name]} and {section.__name__}"
            owners[name] = section.__name__
    assert set(owners) == set(Settings.model_fields)


def test_variables_keep_their_flat_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKTIME_DATABASE_POOL_SIZE", "7")
    monkeypatch.setenv("WORKTIME_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("WORKTIME_ENV", "test")
    monkeypatch.delenv("WORKTIME_RATE_LIMIT_ENABLED", raising=False)
    settings = Settings()
    assert settings.database_pool_size == 7
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    # Derived across sections: rate limits default to off in the test environment.
    assert settings.rate_limits_on is False
