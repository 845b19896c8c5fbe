"""The same stack from testcontainers, for machines with a Docker engine (not exercised where none runs)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import HttpWaitStrategy
from testcontainers.postgres import PostgresContainer
from testcontainers.redis import RedisContainer

ROOT = Path(__file__).resolve().parent.parent
KEYCLOAK_IMAGE = "quay.io/keycloak/keycloak:26.7.3"
BACKEND_SECRET = "worktime-backend-dev-secret"


@contextmanager
def container_stack() -> Iterator[dict[str, str]]:
    with ExitStack() as stack, tempfile.TemporaryDirectory() as scratch:
        postgres = stack.enter_context(
            PostgresContainer("postgres:16-alpine", username="postgres", password="postgres", dbname="postgres")
        )
        pg_host, pg_port = postgres.get_container_host_ip(), postgres.get_exposed_port(5432)
        superuser = f"postgresql://postgres:postgres@{pg_host}:{pg_port}/postgres"
        subprocess.run(
            ["psql", superuser, "-v", "ON_ERROR_STOP=1", "-f", str(ROOT / "deploy/postgres/bootstrap.sql")],
            check=True,
            capture_output=True,
        )
        redis = stack.enter_context(RedisContainer("redis:7-alpine"))

        realm = Path(scratch) / "worktime-realm.json"
        build = subprocess.run(
            [sys.executable, str(ROOT / "keycloak/build_realm.py"), "--dev", "--out", str(realm)], check=True
        )
        assert build.returncode == 0
        json.loads(realm.read_text())  # fail early on a broken realm file
        keycloak = (
            DockerContainer(KEYCLOAK_IMAGE)
            .with_env("KC_BOOTSTRAP_ADMIN_USERNAME", "admin")
            .with_env("KC_BOOTSTRAP_ADMIN_PASSWORD", "admin")
            .with_env("KC_HEALTH_ENABLED", "true")
            .with_env("WORKTIME_BACKEND_CLIENT_SECRET", BACKEND_SECRET)
            .with_volume_mapping(str(realm), "/opt/keycloak/data/import/worktime-realm.json", "ro")
            .with_exposed_ports(8080, 9000)
            .with_command("start-dev --import-realm")
            .waiting_for(HttpWaitStrategy(9000, "/health/ready").for_status_code(200))
        )
        stack.enter_context(keycloak)
        kc_url = f"http://{keycloak.get_container_host_ip()}:{keycloak.get_exposed_port(8080)}"
        db = f"{pg_host}:{pg_port}/worktime"
        yield {
            "WORKTIME_ENV": "test",
            "WORKTIME_DATABASE_URL": f"postgresql+asyncpg://worktime_app:worktime_app@{db}",
            "WORKTIME_DATABASE_OWNER_URL": f"postgresql+asyncpg://worktime_owner:worktime_owner@{db}",
            "WORKTIME_DATABASE_SUPERUSER_URL": superuser,
            "WORKTIME_REDIS_URL": f"redis://{redis.get_container_host_ip()}:{redis.get_exposed_port(6379)}/0",
            "WORKTIME_KEYCLOAK_URL": kc_url,
            "WORKTIME_KEYCLOAK_REALM": "worktime",
            "WORKTIME_KEYCLOAK_ALLOWED_CLIENTS": "worktime-web,worktime-cli,worktime-backend,worktime-test-service",
            "WORKTIME_KEYCLOAK_ADMIN_CLIENT_ID": "worktime-backend",
            "WORKTIME_KEYCLOAK_ADMIN_CLIENT_SECRET": BACKEND_SECRET,
            "KEYCLOAK_ADMIN_USER": "admin",
            "KEYCLOAK_ADMIN_PASSWORD": "admin",
            "DEMO_PASSWORD": "worktime-demo",
        }
