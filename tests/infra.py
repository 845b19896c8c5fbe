"""Where the tests' Postgres, Redis and Keycloak come from.

1. Environment variables (``WORKTIME_DATABASE_URL`` …) — set by ``make test`` (which starts a native,
   throwaway stack through deploy/localstack.py) or by you, to run against existing servers.
2. Otherwise, with a reachable Docker engine: testcontainers.
3. Otherwise: the native stack, started here and stopped at the end of the session.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = [
    "WORKTIME_DATABASE_URL",
    "WORKTIME_DATABASE_OWNER_URL",
    "WORKTIME_REDIS_URL",
    "WORKTIME_KEYCLOAK_URL",
]


def _docker_reachable() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def load_localstack() -> ModuleType:
    """The stdlib-only package deploy/localstack/ (deploy/ is not on sys.path), imported once."""
    if "localstack" in sys.modules:
        return sys.modules["localstack"]
    package = ROOT / "deploy" / "localstack"
    spec = importlib.util.spec_from_file_location(
        "localstack", package / "__init__.py", submodule_search_locations=[str(package)]
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["localstack"] = module  # before exec: its relative imports resolve through it
    spec.loader.exec_module(module)
    return module


@contextmanager
def _native() -> Iterator[dict[str, str]]:
    stack = load_localstack().LocalStack("pytest", fixed_ports=False, ephemeral=True)
    try:
        yield stack.start()
    finally:
        stack.stop()


@contextmanager
def _containers() -> Iterator[dict[str, str]]:
    from tests.containers import container_stack

    with container_stack() as env:
        yield env


@contextmanager
def provide_stack() -> Iterator[dict[str, str]]:
    if all(os.environ.get(name) for name in REQUIRED):
        yield {k: v for k, v in os.environ.items() if k.startswith(("WORKTIME_", "KEYCLOAK_", "DEMO_"))}
        return
    provider: Callable[[], contextmanager[dict[str, str]]]  # type: ignore[valid-type]
    provider = _containers if _docker_reachable() else _native  # type: ignore[assignment]
    with provider() as env:
        os.environ.update(env)
        yield env


def start_worker(env: Mapping[str, str], *, threads: int = 2) -> subprocess.Popen[bytes]:
    """A real ``python -m backend worker`` with ``env`` on top of ours, in its own process group (so a
    test can kill it and every thread of it at once)."""
    return subprocess.Popen(
        [sys.executable, "-m", "backend", "worker", "--threads", str(threads)],
        cwd=ROOT,
        env={**os.environ, **env},
        start_new_session=True,
    )


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    """Stop it as an operator would (SIGTERM: finish the current job), killing it after 20 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
