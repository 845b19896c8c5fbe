"""The settings: grouped by concern, read flat, and documented from their own descriptions."""

from __future__ import annotations

import os
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


def test_production_refuses_the_development_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    for name in list(os.environ):
        if name.startswith("WORKTIME_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("WORKTIME_ENV", "production")
    monkeypatch.setenv("WORKTIME_KEYCLOAK_ALLOWED_CLIENTS", "worktime-bff,worktime-cli")
    monkeypatch.setenv("WORKTIME_WEB_CLIENT_SECRET", "worktime-bff-dev-secret")
    with pytest.raises(ValidationError) as refused:
        Settings()
    message = str(refused.value)
    for variable in (
        "WORKTIME_EXPORT_LINK_SECRET",
        "WORKTIME_EXPORT_KEY_SECRET",
        "WORKTIME_INVITATION_LINK_SECRET",
        "WORKTIME_SECRET_KEYS",
        "WORKTIME_WEB_CLIENT_SECRET",
        "worktime-cli",
    ):
        assert variable in message

    # With its own values it starts; development keeps working with the defaults.
    for name in ("export_link_secret", "export_key_secret", "invitation_link_secret"):
        monkeypatch.setenv(f"WORKTIME_{name.upper()}", f"{name}-from-the-vault")
    monkeypatch.setenv("WORKTIME_SECRET_KEYS", "cHJvZHVjdGlvbi1rZXktMDAwMDAwMDAwMDAwMDAwMDA=")
    monkeypatch.setenv("WORKTIME_WEB_CLIENT_SECRET", "from-the-vault")
    monkeypatch.setenv("WORKTIME_KEYCLOAK_ALLOWED_CLIENTS", "worktime-bff,worktime-backend")
    assert Settings().env == "production"
    monkeypatch.setenv("WORKTIME_ENV", "development")
    monkeypatch.delenv("WORKTIME_EXPORT_LINK_SECRET")
    assert Settings().export_link_secret.startswith("dev-only")
