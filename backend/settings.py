"""Runtime configuration, read once from the environment and `.env`.

Every variable is ``WORKTIME_`` + the field's name in capitals. The settings are grouped by concern: each
``*Section`` below holds one concern's fields (and the values derived from them), and ``Settings`` is all of
them in one flat object, so code reads ``settings.database_url`` whatever section a field lives in.
docs/configuration.md is generated from these classes (``python -m backend.settings_docs``, run by
``make docs``; ``make lint`` fails when it is stale): a field's description is its documentation.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, computed_field, model_validator
from pydantic.config import JsonDict
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


# A comma-separated list in the environment (`a,b,c`), a list in code.
CsvList = Annotated[list[str], NoDecode, BeforeValidator(_split_csv)]


def _shown(default: str) -> JsonDict:
    """How docs/configuration.md shows a default that reads badly as a value (unset, secrets, sizes)."""
    return {"shown_default": default}


class _Section(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WORKTIME_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )


class RuntimeSection(_Section):
    """Runtime and logging"""

    env: Literal["development", "test", "production"] = Field(
        default="development",
        description=(
            "`development`, `test` or `production`. It decides the default of `WORKTIME_LOG_JSON`, and "
            "whether invitations accept addresses in the reserved `.test` domain (everywhere except "
            "`production`)."
        ),
    )
    log_level: str = Field(default="INFO", description="Root log level.")
    log_json: bool | None = Field(
        default=None,
        description="`true`/`false`: JSON log lines. When unset, JSON in `production`, console format otherwise.",
    )

    @property
    def json_logs(self) -> bool:
        return self.log_json if self.log_json is not None else self.env == "production"


class ApiSection(_Section):
    """API server (`python -m backend serve`)"""

    api_host: str = Field(
        default="127.0.0.1", description="Bind address of `python -m backend serve` (overridden by `--host`)."
    )
    api_port: int = Field(default=8000, description="Port of `serve` (overridden by `--port`).")


class DatabaseSection(_Section):
    """Database (PostgreSQL)"""

    database_url: str = Field(
        default="postgresql+asyncpg://worktime_app:worktime_app@127.0.0.1:55432/worktime",
        description=(
            "The API's and workers' connection, made as the **runtime role**. The user name in this URL is "
            "the role that migrations grant table privileges to."
        ),
    )
    database_owner_url: str = Field(
        default="postgresql+asyncpg://worktime_owner:worktime_owner@127.0.0.1:55432/worktime",
        description="The **owner role**, used by `migrate`, `makemigration` and `audit verify`.",
    )
    database_pool_size: int = Field(
        default=20,
        description=(
            "SQLAlchemy pool size of the API engine: keep it at least the number of requests one API process "
            "serves at once (under load, a smaller pool opens and closes overflow connections on every "
            "burst, which `make bench` showed costs more than the requests). `seed` uses 2, workers 4 and "
            "`audit verify` 1."
        ),
    )
    database_max_overflow: int = Field(default=5, description="Extra connections allowed beyond the pool.")
    database_statement_timeout_ms: int = Field(
        default=15_000, description="Postgres `statement_timeout` set on every connection."
    )
    database_behind_pgbouncer: bool = Field(
        default=False,
        description=(
            "The runtime URL points at PgBouncer in transaction pooling mode without prepared-statement "
            "tracking (before 1.21): statement caches off, unique statement names, and the statement "
            "timeout left to the pooler's `connect_query` or the role (`ALTER ROLE ... SET`)."
        ),
    )

    @property
    def runtime_role(self) -> str:
        """The database role the API runs as; migrations grant it exactly what it needs."""
        username = make_url(self.database_url).username
        if not username:
            raise ValueError("WORKTIME_DATABASE_URL must name the runtime role")
        return username


class JobsSection(_Section):
    """Redis, the job outbox and the job broker

    The outbox relay (`backend/core/outbox.py`) runs in every API process; the broker is dramatiq on Redis
    (docs/operations.md, "Jobs").
    """

    redis_url: str = Field(
        default="redis://127.0.0.1:56379/0",
        description="The dramatiq broker (API and worker), also pinged by `/health/ready`.",
    )
    outbox_relay_enabled: bool = Field(
        default=True, description="Run the job outbox relay in this API process (at least one must)."
    )
    outbox_poll_seconds: float = Field(
        default=1.0, description="Relay poll interval besides `NOTIFY outbox` wake-ups (retries are due on it)."
    )
    outbox_send_timeout_seconds: float = Field(
        default=5.0, description="How long one enqueue on Redis may take before it is retried later."
    )
    outbox_batch_size: int = Field(default=100, description="Rows the relay claims at a time.")
    jobs_heartbeat_timeout_seconds: float = Field(
        default=15.0,
        ge=3.0,
        description=(
            "A worker process silent on the broker this long is presumed dead and the jobs it had taken are "
            "delivered again (dramatiq's own default is 60). At least 3; live workers poll about once a "
            "second."
        ),
    )
    jobs_maintenance_chance: int = Field(
        default=1_000_000,
        ge=0,
        le=1_000_000,
        description=(
            "Out of a million broker commands, how many also run the broker's maintenance, which re-queues a "
            "dead worker's jobs (dramatiq's default, 1,000, can leave them waiting many minutes)."
        ),
    )
    accounts_follow_interval_seconds: float = Field(
        default=3.0,
        ge=0.0,
        description="How often the workers read Keycloak's admin events to disable or re-enable accounts (0: never)",
    )
    accounts_reconcile_interval_seconds: float = Field(
        default=300.0, ge=0.0, description="How often the workers compare every account with Keycloak (0: never)"
    )


class KeycloakSection(_Section):
    """Keycloak and access tokens"""

    keycloak_url: str = Field(
        default="http://127.0.0.1:58080",
        description=(
            "Keycloak as the API reaches it (back channel): the JWKS is fetched from "
            "`{url}/realms/{realm}/protocol/openid-connect/certs`."
        ),
    )
    keycloak_public_url: str | None = Field(
        default=None,
        description=(
            "Keycloak as browsers see it. Sets the expected token issuer `{public_url}/realms/{realm}` and "
            "the Swagger UI authorization/token URLs. Set it when the API reaches Keycloak under another "
            "name (e.g. `docker-compose.yml`)."
        ),
        json_schema_extra=_shown("unset (= `WORKTIME_KEYCLOAK_URL`)"),
    )
    keycloak_realm: str = Field(default="worktime", description="Realm name.")
    keycloak_audience: str = Field(default="worktime-api", description="Required `aud` value in access tokens.")
    keycloak_allowed_clients: CsvList = Field(
        # The production realm's clients; development stacks add the dev overlay's CLI and test clients.
        default_factory=lambda: ["worktime-web", "worktime-bff", "worktime-backend"],
        description=(
            "Comma-separated list. A token's `azp` (the client it was issued to) must be one of these. The "
            "local stacks and the tests set "
            "`worktime-web,worktime-bff,worktime-cli,worktime-backend,worktime-test-service` (the dev "
            "overlay's CLI and test clients). Keep `worktime-bff` in it for the web app."
        ),
    )
    keycloak_docs_client_id: str = Field(
        default="worktime-web", description="Public client that Swagger UI logs in with (authorization code + PKCE)."
    )
    keycloak_admin_url: str | None = Field(
        default=None,
        description="Keycloak base URL for the admin REST API (invitations).",
        json_schema_extra=_shown("unset (= `WORKTIME_KEYCLOAK_URL`)"),
    )
    keycloak_admin_client_id: str = Field(
        default="worktime-backend",
        description=(
            "Service-account client (client credentials) that the API uses for the Keycloak admin API: it "
            "finds or creates invited accounts and sends Keycloak's invitation email."
        ),
    )
    keycloak_admin_client_secret: str = Field(
        default="",
        description=(
            "Its secret. `make run` uses `worktime-backend-dev-secret`. When it is wrong or empty, "
            "invitations get a 503."
        ),
    )
    keycloak_timeout_seconds: float = Field(
        default=5.0,
        description=(
            "Timeout of the HTTP client that fetches the JWKS, and of the admin client. The admin client "
            "truncates it to whole seconds."
        ),
    )

    jwt_leeway_seconds: int = Field(default=30, description="Clock skew tolerated on `exp`, `nbf` and `iat`.")
    access_token_lifespan_seconds: int = Field(
        default=300,
        description=(
            "The realm's longest access-token lifespan; a back-channel logout is remembered this long plus the leeway."
        ),
    )
    jwks_cache_seconds: int = Field(default=300, description="Age after which cached signing keys are refetched.")
    jwks_unknown_kid_cooldown_seconds: float = Field(
        default=10.0,
        description="Minimum interval between JWKS fetches triggered by a cache miss (unknown `kid` or stale cache).",
    )
    jwks_stale_wait_seconds: float = Field(
        default=0.5,
        description=(
            "When the cached key set has aged out, how long requests wait for the background refresh (from "
            "its start) before they are served from the last good set."
        ),
    )
    jwks_unknown_kid_wait_seconds: float = Field(
        default=3.0, description="How long a request whose `kid` is not cached waits for the key set fetch."
    )

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


class WebSection(_Section):
    """Web app

    The backend-for-frontend's Keycloak client and its cookie session (`backend/web`,
    `backend/core/websession.py`).
    """

    web_client_id: str = Field(
        default="worktime-bff",
        description="The web app's Keycloak client (backend-for-frontend, code + PKCE); see [web.md](web.md).",
    )
    web_client_secret: str = Field(
        default="",
        description=(
            "Its secret (Keycloak reads the same value as `WORKTIME_BFF_CLIENT_SECRET` at realm import). The "
            "local stacks use `worktime-bff-dev-secret`."
        ),
    )
    web_base_url: str | None = Field(
        default=None,
        description=(
            "The web app's public URL, for the redirect URIs and the links in invitation emails; set it "
            "behind a proxy (Keycloak's `WORKTIME_WEB_URL` must match)."
        ),
        json_schema_extra=_shown("unset (= the request's own URL)"),
    )
    web_cookie_secure: bool | None = Field(
        default=None,
        description="`Secure` flag of the session cookie.",
        json_schema_extra=_shown("unset (on in `production`)"),
    )
    web_session_max_seconds: int = Field(
        default=36_000, description="Longest life of a web session (the refresh token may end it sooner)."
    )
    web_login_timeout_seconds: int = Field(
        default=600, description="How long a started sign-in may take before its `state` expires."
    )


class HttpEdgeSection(_Section):
    """HTTP edge (`backend/core/http.py`)"""

    max_body_bytes: int = Field(
        default=1_048_576,
        description=(
            "Largest request body (1 MiB). Larger ones get a 413 as soon as the limit is passed, or at once "
            "when `Content-Length` says so."
        ),
    )
    max_upload_body_bytes: int = Field(
        default=104_857_600, description="Largest body on paths matching `WORKTIME_UPLOAD_PATH_PATTERN` (100 MiB)."
    )
    upload_path_pattern: str = Field(
        default=r"^/api/v1/orgs/[^/]+/(?:.+/)?attachments(?:/|$)",
        description=(
            "Regular expression (matched from the start of the path) of the upload routes (task attachments)."
        ),
    )
    cors_origins: CsvList = Field(
        default_factory=list,
        description=(
            "Comma-separated exact origins (`https://app.example.com`) allowed to call the API from a "
            "browser. Empty: no CORS headers at all."
        ),
    )


class RateLimitSection(_Section):
    """Rate limits (`backend/core/ratelimit.py`)

    Budgets are in the `limits` notation, e.g. `600/minute`.
    """

    rate_limit_enabled: bool | None = Field(
        default=None, description="`true`/`false`. Unset: on, except when `WORKTIME_ENV=test`."
    )
    rate_limit_anonymous: str = Field(
        default="120/minute",
        description=(
            "Budget per client address for `/api/v1` requests without a valid token ([`limits` "
            "notation](https://limits.readthedocs.io/en/stable/quickstart.html#rate-limit-string-notation), "
            "e.g. `10/second`, `1000/hour`)."
        ),
    )
    rate_limit_user: str = Field(default="1200/minute", description="Budget per verified user.")
    rate_limit_org: str = Field(
        default="6000/minute", description="Budget per organization (`/api/v1/orgs/{org_id}/...`), shared by its users."
    )
    rate_limit_costly: str = Field(default="30/minute", description="Extra per-user budget on the costly routes.")
    rate_limit_costly_routes: CsvList = Field(
        default_factory=lambda: [
            r"POST ^/api/v1/orgs/[^/]+/members/invitations$",
            r"POST ^/api/v1/orgs/[^/]+/invitations/[^/]+/resend$",
            r"* ^/api/v1/orgs/[^/]+/(?:.+/)?(?:attachments|exports|imports)(?:/|$)",
        ],
        description=(
            "Comma-separated `METHOD REGEX` pairs (`*` for any method); the regular expressions cannot contain commas."
        ),
    )
    rate_limit_redis_url: str | None = Field(
        default=None,
        description="Redis holding the counters (keys prefixed `worktime-ratelimit`).",
        json_schema_extra=_shown("unset (= `WORKTIME_REDIS_URL`)"),
    )
    rate_limit_redis_timeout_seconds: float = Field(
        default=0.1,
        description=(
            "Connect and command timeout of the counters' background sync; past it each process keeps "
            "counting on its own."
        ),
    )
    rate_limit_sync_seconds: float = Field(
        default=0.1,
        description=(
            "How often each process adds what it admitted to the shared counters in Redis and reads back "
            "what is left. Budgets are exact within a process and shared across processes within one "
            "interval."
        ),
    )


class StorageSection(_Section):
    """Attachments and their storage"""

    storage_backend: Literal["local", "s3"] = Field(
        default="local",
        description=(
            "Where attachment files live: `local` (a directory) or `s3` (an S3-compatible bucket: AWS S3, or "
            "a self-hosted server such as Versity's gateway, Ceph RGW, Garage)."
        ),
    )
    storage_dir: str = Field(
        default=".data/attachments",
        description=(
            "The local store (created when the API starts, so `make run` creates it); uploads stream into "
            "its `.tmp/` first. With `s3`, only that `.tmp/` scratch directory is used."
        ),
    )
    storage_s3_bucket: str = Field(
        default="", description="`s3`: the bucket; it must exist (the API does not create it). Required with `s3`."
    )
    storage_s3_prefix: str = Field(
        default="", description="`s3`: a key prefix inside the bucket (e.g. `worktime/attachments`)."
    )
    storage_s3_endpoint: str = Field(
        default="",
        description=(
            "`s3`: the server's URL, e.g. `http://127.0.0.1:7070`; empty means AWS for the region. `http://` "
            "endpoints are allowed only when given here."
        ),
    )
    storage_s3_region: str = Field(
        default="us-east-1", description="`s3`: the region (self-hosted servers usually accept any)."
    )
    storage_s3_access_key_id: str = Field(
        default="",
        description=(
            "`s3`: with the secret below; empty uses the usual AWS credential chain (`AWS_*` variables, "
            "instance or pod roles)."
        ),
    )
    storage_s3_secret_access_key: str = Field(default="", description="`s3`: the secret of that key.")
    storage_s3_path_style: bool = Field(
        default=True,
        description=(
            "`s3`: path-style requests (`endpoint/bucket/key`, what most self-hosted servers expect); "
            "`false` for virtual-hosted style."
        ),
    )
    storage_s3_part_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=5 * 1024 * 1024,
        description=(
            "`s3`: files larger than this go up as multipart uploads in parts of this size (at least 5 MiB, "
            "S3's minimum). Uploads are read from the scratch file part by part, never whole into memory. "
            "Configure a lifecycle rule that aborts incomplete multipart uploads after a day: an upload cut "
            "off half way leaves parts the bucket keeps until then."
        ),
        json_schema_extra=_shown("`8388608` (8 MiB)"),
    )
    attachment_max_bytes: int = Field(
        default=25 * 1024 * 1024,
        description="Largest attachment; larger uploads get a 413, whether declared or streamed.",
        json_schema_extra=_shown("`26214400` (25 MiB)"),
    )
    attachment_allowed_types: CsvList = Field(
        default_factory=lambda: [
            "image/png",
            "image/jpeg",
            "image/gif",
            "image/webp",
            "application/pdf",
            "application/zip",
            "text/plain",
        ],
        description="Comma-separated. The type is sniffed from the bytes; anything else gets a 415.",
    )


class ExportSection(_Section):
    """Exports (`backend/exports`)

    Files, signed links and the per-organization signing keys. Periodic jobs such as the sweep are offered
    by each worker process; a Redis lease lets one through per interval.
    """

    export_dir: str = Field(
        default=".data/exports",
        description=(
            "Where export files and manifests are written (`{dir}/{org}/{id}.csv` or `.pdf`); the API and "
            "workers must share it."
        ),
    )
    export_retention_hours: int = Field(
        default=168,
        description=(
            "The default for organizations that set no retention of their own (`PUT …/exports/settings`); "
            "the scheduled sweep (or `python -m backend export sweep`) deletes older files."
        ),
    )
    reminder_interval_seconds: float = Field(
        default=300.0,
        ge=0.0,
        description=(
            "How often the workers evaluate the reminder rules (docs/reminders.md); one worker per interval, "
            "chosen by a Redis lease. A reminder is sent at most once per person and period whatever the "
            "interval. `0` turns reminders off."
        ),
    )
    audit_anchor_interval_seconds: float = Field(
        default=3600.0,
        ge=0.0,
        description=(
            "How often the workers anchor each organization's audit head (a signed statement of its newest "
            "event, docs/security.md); one worker per interval, chosen by a Redis lease, and only heads that "
            "moved get a new anchor. Period locks anchor too. `0` turns the schedule off "
            "(run `audit anchor` yourself)."
        ),
    )
    export_sweep_interval_seconds: float = Field(
        default=300.0,
        ge=0.0,
        description=(
            "How often the workers run the export sweep (expiry and stalled re-sends); one worker per "
            "interval, chosen by a Redis lease. `0` turns the schedule off (run `export sweep` yourself)."
        ),
    )
    export_link_seconds: int = Field(
        default=900, le=900, description="Lifetime of a signed download link (at most 900)."
    )
    export_mail_link_seconds: int = Field(
        default=7 * 86400,
        ge=900,
        le=30 * 86400,
        description=(
            "Lifetime of the download link a scheduled export's mail carries (docs/reminders.md), 15 minutes "
            "to 30 days; signed as a mailed link, so it is kept apart from the interactive links' limit."
        ),
    )
    export_link_secret: str = Field(
        default="dev-only-export-link-secret",
        description=(
            "HMAC key of signed download links. **Set it in production**; changing it invalidates open links."
        ),
        json_schema_extra=_shown("a development value"),
    )
    export_key_secret: str = Field(
        default="dev-only-export-key-secret",
        description=(
            "Derives the AES-GCM key that encrypts each organization's Ed25519 signing key at rest. **Set it "
            "in production and keep it**: with another value the stored keys cannot be decrypted and exports "
            "fail."
        ),
        json_schema_extra=_shown("a development value"),
    )
    export_stale_seconds: int = Field(
        default=120, description="A running export without progress for this long is re-sent by the sweep."
    )
    export_test_delay_ms: int = Field(
        default=0, description="Test only: a pause per written chunk (the killed-worker test uses it)."
    )
    import_test_delay_ms: int = Field(
        default=0, description="Test only: a pause per committed import chunk (the killed-worker test uses it)."
    )


class MailSection(_Section):
    """Outgoing mail (`backend/core/mail.py`)

    One SMTP sender for every email the platform writes itself.
    """

    smtp_host: str = Field(
        default="127.0.0.1",
        description=(
            "SMTP server of the platform's own email (`backend/core/mail.py`: invitations; reminders later). "
            "Sent by the worker, never by a request. The dev realm's Keycloak reads the same two variables "
            "for its own emails."
        ),
    )
    smtp_port: int = Field(default=1025, description="Its port (`make run`'s mail catcher listens on 1025).")
    smtp_from: str = Field(default="noreply@worktime.test", description="The `From` address.")
    smtp_from_name: str = Field(default="Worktime", description="The `From` display name.")
    smtp_user: str = Field(default="", description="SMTP login; empty: no `AUTH`.")
    smtp_password: str = Field(default="", description="SMTP password.")
    smtp_starttls: bool = Field(
        default=False,
        description=(
            "Upgrade the connection with `STARTTLS` (certificate verified) before `AUTH`. Use it (or "
            "`WORKTIME_SMTP_SSL`) whenever a password is set."
        ),
    )
    smtp_ssl: bool = Field(default=False, description="Implicit TLS (SMTPS, usually port 465).")
    smtp_timeout_seconds: float = Field(
        default=10.0,
        description=(
            "Connect/command timeout of one delivery attempt. A failed attempt is logged "
            "(`mail_send_failed`) and retried by dramatiq 12 times with exponential back-off from 5 s up to "
            "30 min (about 2 h in all)."
        ),
    )


class InvitationSection(_Section):
    """Invitations (`backend/members/links.py`)

    The platform's own invitation link and Keycloak's set-your-password link.
    """

    invitation_link_secret: str = Field(
        default="dev-only-invitation-link-secret",
        description=(
            "HMAC key of the `/join/…` links in invitation emails. **Set it in production**; changing it "
            "invalidates open invitation links (re-send them)."
        ),
        json_schema_extra=_shown("a development value"),
    )
    invitation_link_days: int = Field(default=7, ge=1, le=30, description="How long an invitation link works (1-30).")
    invitation_setup_link_seconds: int = Field(
        default=900,
        ge=60,
        le=3600,
        description=(
            "Lifespan of Keycloak's set-your-password link that an invitee requests from the invitation page (60-3600)."
        ),
    )
    invitation_resend_seconds: int = Field(
        default=60,
        description=(
            "Least time between two invitation emails per invitation (resend: 429 with `Retry-After`) and "
            "between two set-password emails."
        ),
    )


class WebhookSection(_Section):
    """Outgoing webhooks and integrations (`backend/webhooks`, `backend/integrations`)

    Signed, retried deliveries to endpoints the organizations' admins register, the SSRF guard in front of
    them, and the keys that encrypt webhook and connector secrets at rest (`docs/integrations.md`).
    """

    secret_keys: CsvList = Field(
        default_factory=lambda: ["ZGV2LW9ubHktc2VjcmV0LWtleS0wMDAwMDAwMDAwMDA="],
        description=(
            "Comma-separated Fernet keys, newest first, encrypting webhook signing secrets and connector secrets "
            "at rest. To rotate: put a new key (`python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`) in front, restart, run `python -m backend keys rotate`, "
            "then drop the old key. **Set it in production.**"
        ),
        json_schema_extra=_shown("a development key"),
    )
    webhook_allow_loopback: bool | None = Field(
        default=None,
        description=(
            "Let webhook deliveries reach loopback addresses (the tests' receiver on 127.0.0.1). Defaults to on "
            "outside production; in production loopback is refused whatever this says."
        ),
        json_schema_extra=_shown("unset (on unless `WORKTIME_ENV=production`)"),
    )
    webhook_timeout_seconds: float = Field(default=10.0, description="Connect, write and read timeout of one delivery.")
    webhook_max_response_bytes: int = Field(
        default=65_536, description="At most this much of a receiver's answer is read; the rest is dropped."
    )
    webhook_retries: int = Field(
        default=14,
        ge=0,
        description="Retries of a failed delivery; the back-off doubles from the minimum up to the maximum (~24 h).",
    )
    webhook_min_backoff_ms: int = Field(default=30_000, description="The first retry's delay.")
    webhook_max_backoff_ms: int = Field(default=4 * 3_600_000, description="The longest delay between two retries.")
    webhook_disable_after_failures: int = Field(
        default=30,
        ge=1,
        description="Consecutive failed attempts (over every delivery) after which an endpoint is disabled.",
    )


class MetricsSection(_Section):
    """Prometheus metrics (`backend/core/metrics.py`, `docs/operations.md` "Metrics")"""

    metrics_token: str = Field(
        default="",
        description="Bearer token a scraper sends to `GET /metrics`; outside development `/metrics` is 404 without it.",
    )
    worker_metrics_port: int = Field(
        default=0, ge=0, le=65535, description="Workers serve `/metrics` on this separate port (0: off)."
    )


class TracingSection(_Section):
    """OpenTelemetry traces (`backend/core/tracing.py`, `docs/operations.md` "Tracing")"""

    otel_endpoint: str | None = Field(
        default=None,
        description=(
            "OTLP/HTTP traces endpoint, e.g. `http://otel-collector:4318/v1/traces`. Set: the API traces every "
            "request (FastAPI), its SQL (SQLAlchemy) and Redis calls, with the request id on the server span. "
            "Unset: tracing is off and OpenTelemetry is never imported. Needs the `otel` extra installed."
        ),
        json_schema_extra=_shown("unset (off)"),
    )
    otel_service_name: str = Field(default="worktime-api", description="`service.name` of the traces.")


class SsoSection(_Section):
    """Enterprise single sign-on (`backend/sso`, `docs/sso.md`)"""

    sso_require_https: bool | None = Field(
        default=None,
        description="Identity providers' URLs must be https.",
        json_schema_extra=_shown("unset (on when `WORKTIME_ENV=production`)"),
    )
    sso_fetch_timeout_seconds: float = Field(
        default=5.0, description="How long fetching a provider's discovery document or SAML metadata may take."
    )
    sso_dns_timeout_seconds: float = Field(
        default=5.0, gt=0, description="How long the DNS TXT check of a claimed email domain may take."
    )
    sso_dns_nameserver: str | None = Field(
        default=None,
        description=(
            "Development and tests only: `host:port` of a nameserver on loopback that the domain TXT check asks "
            "instead of the system's resolvers (the tests' tiny DNS server). Refused when `WORKTIME_ENV=production`."
        ),
        json_schema_extra=_shown("unset (the system's resolvers)"),
    )


class OffboardingSection(_Section):
    """Tenant offboarding (`backend/orgs/offboarding.py`, docs/operations.md)

    An owner's full export of an organization, and its deletion for good after a grace period, purged by
    a scheduled tick that one worker per interval runs (a Redis lease).
    """

    offboarding_grace_days: int = Field(
        default=30,
        ge=0,
        le=365,
        description=(
            "Days between an owner scheduling an organization's deletion (it is archived at once) and its "
            "purge; the deletion can be cancelled until then."
        ),
    )
    offboarding_interval_seconds: float = Field(
        default=3600.0,
        ge=0.0,
        description=(
            "How often the workers purge the organizations whose grace period is over (and resume a purge a "
            "crash interrupted); one worker per interval, chosen by a Redis lease. `0` turns the schedule off "
            "(run `python -m backend orgs purge` yourself)."
        ),
    )


# The sections in the order docs/configuration.md shows them.
SECTIONS: tuple[type[_Section], ...] = (
    RuntimeSection,
    ApiSection,
    DatabaseSection,
    JobsSection,
    KeycloakSection,
    WebSection,
    HttpEdgeSection,
    RateLimitSection,
    StorageSection,
    ExportSection,
    MailSection,
    InvitationSection,
    WebhookSection,
    MetricsSection,
    TracingSection,
    SsoSection,
    OffboardingSection,
)


class Settings(
    RuntimeSection,
    ApiSection,
    DatabaseSection,
    JobsSection,
    KeycloakSection,
    WebSection,
    HttpEdgeSection,
    RateLimitSection,
    StorageSection,
    ExportSection,
    MailSection,
    InvitationSection,
    WebhookSection,
    MetricsSection,
    TracingSection,
    SsoSection,
    OffboardingSection,
):
    """Every section in one flat object: ``settings.<field>`` whatever section it belongs to.

    Values derived from more than one section live here.
    """

    @model_validator(mode="after")
    def _no_development_secrets_in_production(self) -> Settings:
        """Every process (API, worker, CLI) refuses to start in production with a value that ships in this
        repository: anyone could forge links, decrypt signing keys, or use the dev realm's test clients."""
        if self.env != "production":
            return self
        problems = [
            f"WORKTIME_{name.upper()} still has its development value"
            for name in DEVELOPMENT_SECRETS
            if getattr(self, name) == type(self).model_fields[name].get_default(call_default_factory=True)
        ]
        problems += [
            f"WORKTIME_{name.upper()} is the local stacks' secret"
            for name in ("keycloak_admin_client_secret", "web_client_secret")
            if getattr(self, name).endswith("-dev-secret")
        ]
        if self.sso_dns_nameserver is not None:
            problems.append("WORKTIME_SSO_DNS_NAMESERVER is for development and tests; unset it in production")
        dev_clients = sorted(set(self.keycloak_allowed_clients) & DEVELOPMENT_CLIENTS)
        if dev_clients:
            problems.append(f"WORKTIME_KEYCLOAK_ALLOWED_CLIENTS admits the dev realm's {', '.join(dev_clients)}")
        if problems:
            raise ValueError("refusing to run with WORKTIME_ENV=production: " + "; ".join(problems))
        return self

    @model_validator(mode="after")
    def _dns_nameserver_outside_production(self) -> Settings:
        if self.sso_dns_nameserver is None:
            return self
        if self.env == "production":
            raise ValueError("WORKTIME_SSO_DNS_NAMESERVER is for development and tests; unset it in production")
        host, _, port = self.sso_dns_nameserver.rpartition(":")
        if host not in ("127.0.0.1", "::1", "[::1]") or not port.isdigit():
            raise ValueError("WORKTIME_SSO_DNS_NAMESERVER must be a loopback host:port, e.g. 127.0.0.1:5353")
        return self

    @property
    def sso_dns_server(self) -> tuple[str, int] | None:
        """The loopback nameserver the domain check asks (development and tests), or None."""
        if self.sso_dns_nameserver is None:
            return None
        host, _, port = self.sso_dns_nameserver.rpartition(":")
        return host.strip("[]"), int(port)

    @property
    def sso_require_https_on(self) -> bool:
        return self.sso_require_https if self.sso_require_https is not None else self.env == "production"

    @property
    def web_cookie_secure_on(self) -> bool:
        if self.web_cookie_secure is not None:
            return self.web_cookie_secure
        return self.env == "production"

    @property
    def webhook_loopback_allowed(self) -> bool:
        if self.env == "production":  # never, whatever the setting says
            return False
        return self.webhook_allow_loopback if self.webhook_allow_loopback is not None else True

    @property
    def rate_limits_on(self) -> bool:
        return self.rate_limit_enabled if self.rate_limit_enabled is not None else self.env != "test"


# Fields whose defaults are development values, and the dev overlay's clients (the CLI's password grant
# and the tests' service account); production must set or drop them.
DEVELOPMENT_SECRETS = ("export_link_secret", "export_key_secret", "invitation_link_secret", "secret_keys")
DEVELOPMENT_CLIENTS = frozenset({"worktime-cli", "worktime-test-service"})


@lru_cache
def get_settings() -> Settings:
    return Settings()
