"""Paths, versions, credentials and timeouts of the local stack, and the small helpers every module uses."""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
STACK_ROOT = REPO / ".stack"
BOOTSTRAP_SQL = REPO / "deploy" / "postgres" / "bootstrap.sql"
BUILD_REALM_PY = REPO / "keycloak" / "build_realm.py"

KEYCLOAK_VERSION = "26.7.3"
KEYCLOAK_ARTIFACT = f"org.keycloak:keycloak-quarkus-dist:{KEYCLOAK_VERSION}:tar.gz"
KEYCLOAK_TARBALL = f"keycloak-quarkus-dist-{KEYCLOAK_VERSION}.tar.gz"
KEYCLOAK_URL = (
    f"https://repo1.maven.org/maven2/org/keycloak/keycloak-quarkus-dist/{KEYCLOAK_VERSION}/{KEYCLOAK_TARBALL}"
)
# Build-time options baked into the dist by `kc.sh build`, so every `start --optimized`
# skips the ~30 s re-augmentation.
KEYCLOAK_BUILD_OPTIONS = ("--db=postgres", "--health-enabled=true")
KEYCLOAK_HEAP = "-Xms64m -Xmx768m"

REALM = "worktime"
KEYCLOAK_ADMIN = ("admin", "admin")
BACKEND_CLIENT_ID = "worktime-backend"
BACKEND_CLIENT_SECRET = "worktime-backend-dev-secret"
BFF_CLIENT_ID = "worktime-bff"
BFF_CLIENT_SECRET = "worktime-bff-dev-secret"  # the dev overlay's secret for the web app's client
DEMO_PASSWORD = "worktime-demo"
PG_SUPERUSER_PASSWORD = "postgres"
DB_PASSWORDS = {
    "owner_password": "worktime_owner",
    "app_password": "worktime_app",
    "keycloak_password": "keycloak",
}

FIXED_PORTS = {
    "postgres": 55432,
    "pgbouncer": 56432,
    "redis": 56379,
    "keycloak": 58080,
    "keycloak_mgmt": 59000,
    "api": 8000,
}
# First start imports the realms into an empty database: ~1 min alone, several on a shared, busy machine.
KEYCLOAK_READY_TIMEOUT = 420.0
API_READY_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


class StackError(Exception):
    """A failure with a message meant for the user (no traceback needed)."""


class AlreadyRunning(StackError):
    pass


class StopRequested(Exception):
    """Raised by the CLI's SIGTERM/SIGHUP handler (SIGINT raises KeyboardInterrupt)."""


def log(msg: str) -> None:
    # Progress goes to stderr so stdout stays clean for `status` and --exec output.
    print(f"[localstack] {msg}", file=sys.stderr, flush=True)


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text[-lines:])


def cache_dir() -> Path:
    return Path(os.environ.get("WORKTIME_CACHE_DIR") or Path.home() / ".cache" / "worktime")
