"""Runtime configuration, read once from the environment and `.env`.

Every variable is prefixed with ``WORKTIME_``; docs/configuration.md lists them all.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, computed_field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WORKTIME_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"
    log_json: bool | None = Field(
        default=None, description="JSON log lines; defaults to on in production, off otherwise"
    )

    api_host: str = "127.0.0.1"
    api_port: int = 8000

    database_url: str = "postgresql+asyncpg://worktime_app:worktime_app@127.0.0.1:55432/worktime"
    database_owner_url: str = "postgresql+asyncpg://worktime_owner:worktime_owner@127.0.0.1:55432/worktime"
    database_pool_size: int = 20
    database_max_overflow: int = 5
    database_statement_timeout_ms: int = 15_000

    redis_url: str = "redis://127.0.0.1:56379/0"

    # The job outbox relay (backend/core/outbox.py), run by every API process
    outbox_relay_enabled: bool = True
    outbox_poll_seconds: float = Field(default=1.0, description="Relay poll interval besides LISTEN/NOTIFY wake-ups")
    outbox_send_timeout_seconds: float = Field(default=5.0, description="How long one enqueue on Redis may take")
    outbox_batch_size: int = 100

    # The job broker (dramatiq on Redis; docs/operations.md "Jobs"): how soon a killed worker's jobs run again
    jobs_heartbeat_timeout_seconds: float = Field(
        default=15.0,
        ge=3.0,
        description="A worker process silent on the broker this long is presumed dead, and the jobs it had taken"
        " are delivered again (live workers poll about once a second; dramatiq's default is 60)",
    )
    jobs_maintenance_chance: int = Field(
        default=1_000_000,
        ge=0,
        le=1_000_000,
        description="Out of a million broker commands, how many also run the broker's maintenance (re-queue dead"
        " workers' jobs); dramatiq's default 1,000 can leave them waiting for many minutes",
    )
    # Periodic jobs: each worker process offers them, a Redis lease lets one per interval through
    export_sweep_interval_seconds: float = Field(
        default=300.0, ge=0.0, description="How often the workers run `export sweep` (0: never, run it yourself)"
    )

    keycloak_url: str = "http://127.0.0.1:58080"
    keycloak_public_url: str | None = Field(
        default=None,
        description="Keycloak base URL as browsers and token issuers see it; defaults to keycloak_url",
    )
    keycloak_realm: str = "worktime"
    keycloak_audience: str = "worktime-api"
    keycloak_allowed_clients: Annotated[list[str], NoDecode] = Field(
        # The production realm's clients; development stacks add the dev overlay's CLI and test clients.
        default_factory=lambda: ["worktime-web", "worktime-bff", "worktime-backend"]
    )
    keycloak_docs_client_id: str = "worktime-web"
    keycloak_admin_url: str | None = Field(
        default=None, description="Keycloak base URL for the admin API; defaults to keycloak_url"
    )
    keycloak_admin_client_id: str = "worktime-backend"
    keycloak_admin_client_secret: str = ""
    keycloak_timeout_seconds: float = 5.0

    # Web app (backend/web, backend/core/websession.py): the backend-for-frontend's Keycloak client.
    web_client_id: str = "worktime-bff"
    web_client_secret: str = Field(default="", description="The BFF client's secret (empty: a public client)")
    web_base_url: str | None = Field(
        default=None,
        description="The web app's public URL (redirect URIs, cookie security); defaults to the request's own",
    )
    web_cookie_secure: bool | None = Field(
        default=None, description="Secure session cookies; defaults to on unless WORKTIME_ENV=development or test"
    )
    web_session_max_seconds: int = Field(default=36_000, description="A web session's longest life")
    web_login_timeout_seconds: int = Field(default=600, description="How long a started sign-in may take")

    jwt_leeway_seconds: int = 30
    access_token_lifespan_seconds: int = Field(
        default=300,
        description="The realm's longest access-token lifespan: how long a back-channel logout is remembered",
    )
    jwks_cache_seconds: int = 300
    jwks_unknown_kid_cooldown_seconds: float = 10.0
    jwks_stale_wait_seconds: float = Field(
        default=0.5, description="How long a request waits for the refresh of an aged-out key set"
    )
    jwks_unknown_kid_wait_seconds: float = Field(
        default=3.0, description="How long a request with an unknown kid waits for a key set fetch"
    )

    # HTTP edge (backend/core/http.py)
    max_body_bytes: int = 1_048_576
    max_upload_body_bytes: int = 104_857_600
    upload_path_pattern: str = r"^/api/v1/orgs/[^/]+/(?:.+/)?attachments(?:/|$)"
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Rate limits (backend/core/ratelimit.py); budgets in the `limits` notation, e.g. "600/minute"
    rate_limit_enabled: bool | None = Field(default=None, description="Defaults to on, except when WORKTIME_ENV=test")
    rate_limit_sync_seconds: float = Field(
        default=0.1, description="How often each process reconciles its budgets with Redis"
    )
    rate_limit_anonymous: str = "120/minute"
    rate_limit_user: str = "1200/minute"
    rate_limit_org: str = "6000/minute"
    rate_limit_costly: str = "30/minute"
    rate_limit_costly_routes: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [
            r"POST ^/api/v1/orgs/[^/]+/members/invitations$",
            r"POST ^/api/v1/orgs/[^/]+/invitations/[^/]+/resend$",
            r"* ^/api/v1/orgs/[^/]+/(?:.+/)?(?:attachments|exports|imports)(?:/|$)",
        ]
    )
    rate_limit_redis_url: str | None = Field(default=None, description="Defaults to redis_url")
    rate_limit_redis_timeout_seconds: float = 0.1

    storage_backend: Literal["local", "s3"] = Field(
        default="local", description="Where attachments are kept: a local directory or an S3-compatible bucket"
    )
    storage_dir: str = Field(
        default=".data/attachments", description="The local store; with s3, only its .tmp scratch directory is used"
    )
    storage_s3_bucket: str = Field(default="", description="s3: the bucket (it must exist)")
    storage_s3_prefix: str = Field(default="", description="s3: a key prefix inside the bucket")
    storage_s3_endpoint: str = Field(
        default="", description="s3: the endpoint URL of an S3-compatible server; empty means AWS for the region"
    )
    storage_s3_region: str = "us-east-1"
    storage_s3_access_key_id: str = Field(default="", description="s3: empty means the usual AWS credential chain")
    storage_s3_secret_access_key: str = ""
    storage_s3_path_style: bool = Field(
        default=True, description="s3: path-style requests (most self-hosted servers); false for virtual-hosted"
    )
    storage_s3_part_bytes: int = Field(
        default=8 * 1024 * 1024, ge=5 * 1024 * 1024, description="s3: part size of multipart uploads"
    )
    attachment_max_bytes: int = 25 * 1024 * 1024
    attachment_allowed_types: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [
            "image/png",
            "image/jpeg",
            "image/gif",
            "image/webp",
            "application/pdf",
            "application/zip",
            "text/plain",
        ]
    )

    # Exports (backend/exports): files, signed links and the per-organization signing keys
    export_dir: str = ".data/exports"
    export_retention_hours: int = Field(default=168, description="How long finished export files are kept")
    export_link_seconds: int = Field(default=900, le=900, description="Lifetime of a signed download link")
    export_link_secret: str = Field(
        default="dev-only-export-link-secret", description="HMAC key of signed download links; set in production"
    )
    export_key_secret: str = Field(
        default="dev-only-export-key-secret",
        description="Derives the AES-GCM key that encrypts organizations' signing keys at rest; set in production",
    )
    export_stale_seconds: int = Field(
        default=120, description="A running export without progress for this long is re-sent by `export sweep`"
    )
    export_test_delay_ms: int = Field(default=0, description="Test only: a pause per written chunk")

    # Outgoing mail (backend/core/mail.py): one SMTP sender for every email the platform writes itself
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_from: str = Field(default="noreply@worktime.test", description="The From address of platform email")
    smtp_from_name: str = "Worktime"
    smtp_user: str = Field(default="", description="SMTP login (empty: no AUTH)")
    smtp_password: str = ""
    smtp_starttls: bool = Field(default=False, description="Upgrade the connection with STARTTLS before AUTH")
    smtp_ssl: bool = Field(default=False, description="Implicit TLS (SMTPS, usually port 465)")
    smtp_timeout_seconds: float = 10.0

    # Invitations (backend/members/links.py): the platform's own invitation link and Keycloak's setup link
    invitation_link_secret: str = Field(
        default="dev-only-invitation-link-secret", description="HMAC key of invitation links; set in production"
    )
    invitation_link_days: int = Field(default=7, ge=1, le=30, description="How long an invitation link works")
    invitation_setup_link_seconds: int = Field(
        default=900,
        ge=60,
        le=3600,
        description="Lifespan of Keycloak's set-your-password link requested from the invitation page",
    )
    invitation_resend_seconds: int = Field(
        default=60, description="Least time between two invitation emails (resend, set-password) per invitation"
    )

    # Enterprise SSO (backend/sso, docs/sso.md)
    sso_require_https: bool | None = Field(
        default=None, description="Identity providers' URLs must be https; defaults to on in production"
    )
    sso_fetch_timeout_seconds: float = Field(
        default=5.0, description="How long fetching a provider's discovery document or SAML metadata may take"
    )

    @field_validator(
        "keycloak_allowed_clients",
        "cors_origins",
        "rate_limit_costly_routes",
        "attachment_allowed_types",
        mode="before",
    )
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @computed_field  # type: ignore[prop-decorator]
    @property
    def keycloak_issuer(self) -> str:
        base = (self.keycloak_public_url or self.keycloak_url).rstrip("/")
        return f"{base}/realms/{self.keycloak_realm}"

    @property
    def keycloak_jwks_url(self) -> str:
        return f"{self.keycloak_url.rstrip('/')}/realms/{self.keycloak_realm}/protocol/openid-connect/certs"

    @property
    def keycloak_browser_realm_url(self) -> str:
        """The realm as browsers reach it (authorization and logout endpoints)."""
        return self.keycloak_issuer

    @property
    def keycloak_token_url(self) -> str:
        """The token endpoint as this server reaches it (back channel)."""
        return f"{self.keycloak_url.rstrip('/')}/realms/{self.keycloak_realm}/protocol/openid-connect/token"

    @property
    def web_cookie_secure_on(self) -> bool:
        if self.web_cookie_secure is not None:
            return self.web_cookie_secure
        return self.env == "production"

    @property
    def sso_require_https_on(self) -> bool:
        return self.sso_require_https if self.sso_require_https is not None else self.env == "production"

    @property
    def runtime_role(self) -> str:
        """The database role the API runs as; migrations grant it exactly what it needs."""
        username = make_url(self.database_url).username
        if not username:
            raise ValueError("WORKTIME_DATABASE_URL must name the runtime role")
        return username

    @property
    def rate_limits_on(self) -> bool:
        return self.rate_limit_enabled if self.rate_limit_enabled is not None else self.env != "test"

    @property
    def json_logs(self) -> bool:
        return self.log_json if self.log_json is not None else self.env == "production"


@lru_cache
def get_settings() -> Settings:
    return Settings()
