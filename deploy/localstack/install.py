"""What the stack needs on the machine: system packages (apt-installed as root) and the built Keycloak dist."""

import contextlib
import fcntl
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import tarfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

from .config import (
    BUILD_REALM_PY,
    KEYCLOAK_ARTIFACT,
    KEYCLOAK_BUILD_OPTIONS,
    KEYCLOAK_HEAP,
    KEYCLOAK_TARBALL,
    KEYCLOAK_URL,
    KEYCLOAK_VERSION,
    StackError,
    cache_dir,
    log,
    tail,
)


def pg_bindir() -> Path | None:
    def version(p: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", p.parent.parent.name)) or (0,)

    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=version)
    if found:
        return found[-1].parent
    exe = shutil.which("postgres")
    return Path(exe).parent if exe else None


REQUIRED_PACKAGES: list[tuple[str, Callable[[], object], str]] = [
    ("PostgreSQL server", pg_bindir, "postgresql"),
    ("redis-server", lambda: shutil.which("redis-server"), "redis-server"),
    ("pgbouncer", lambda: shutil.which("pgbouncer") or Path("/usr/sbin/pgbouncer").exists(), "pgbouncer"),
    ("java (17+)", lambda: shutil.which("java"), "openjdk-17-jre-headless"),
    # Headless browser for the web app's tests (Playwright drives /usr/bin/chromium; no downloads).
    ("chromium", lambda: shutil.which("chromium"), "chromium"),
    # The PDF export tests read the rendered pages back (pdftotext; pdftoppm for looking at them).
    ("pdftotext (poppler-utils)", lambda: shutil.which("pdftotext"), "poppler-utils"),
]


# Tools some commands need but the stack itself does not; `install NAME...` apt-installs them the
# same way (`python -m backend bench` runs `install wrk` when wrk is missing).
OPTIONAL_PACKAGES: dict[str, tuple[str, Callable[[], object], str]] = {
    "wrk": ("wrk (HTTP load generator)", lambda: shutil.which("wrk"), "wrk"),
    # The browser test of the offline API docs (tests/core/test_docs_ui.py) drives it with Playwright.
    "chromium": ("chromium (headless browser)", lambda: shutil.which("chromium"), "chromium"),
}


def ensure_packages(required: list[tuple[str, Callable[[], object], str]] = REQUIRED_PACKAGES) -> None:
    missing = [(what, pkg) for what, finder, pkg in required if not finder()]
    if not missing:
        return
    pkgs = [pkg for _, pkg in missing]
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise StackError(
            f"missing {', '.join(what for what, _ in missing)}; install them first, e.g.\n"
            f"    sudo apt-get install -y {' '.join(pkgs)}"
        )
    log(f"installing {' '.join(pkgs)} with apt-get (one-time)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Debian may auto-start the system services; harmless, we use our own ports and data dirs.
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *pkgs],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def sha1_of(path: Path) -> str:
    h = hashlib.sha1()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download_keycloak(dest_dir: Path) -> Path:
    """The Keycloak tarball in dest_dir: via mvn (uses ~/.m2 and its mirrors) or urllib."""
    dest = dest_dir / KEYCLOAK_TARBALL
    if dest.exists():
        return dest
    dest_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    if shutil.which("mvn"):
        log(f"downloading Keycloak {KEYCLOAK_VERSION} with mvn")
        part_dir = dest_dir / f"mvn-{os.getpid()}"
        mvn = subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "dependency:copy",
                f"-Dartifact={KEYCLOAK_ARTIFACT}",
                f"-DoutputDirectory={part_dir}",
            ],
            capture_output=True,
            text=True,
        )
        if mvn.returncode != 0:
            raise StackError(f"mvn download failed (exit {mvn.returncode}):\n{mvn.stdout}{mvn.stderr}")
        part = part_dir / KEYCLOAK_TARBALL
        m2_sha1 = (
            Path.home()
            / ".m2/repository/org/keycloak/keycloak-quarkus-dist"
            / KEYCLOAK_VERSION
            / f"{KEYCLOAK_TARBALL}.sha1"
        )
        expected = m2_sha1.read_text().split()[0] if m2_sha1.exists() else None
    else:
        log(f"downloading {KEYCLOAK_URL}")
        part = dest_dir / f"{KEYCLOAK_TARBALL}.part-{os.getpid()}"
        with urllib.request.urlopen(KEYCLOAK_URL + ".sha1", timeout=60) as resp:
            expected = resp.read().decode().split()[0]
        with urllib.request.urlopen(KEYCLOAK_URL, timeout=60) as resp, part.open("wb") as out:
            shutil.copyfileobj(resp, out, 1 << 20)
    if expected is not None and sha1_of(part) != expected.lower():
        part.unlink()
        raise StackError(f"SHA-1 mismatch for downloaded {KEYCLOAK_TARBALL}")
    part.replace(dest)
    if part.parent != dest_dir:
        shutil.rmtree(part.parent, ignore_errors=True)
    log(f"downloaded {dest.stat().st_size >> 20} MiB in {time.monotonic() - t0:.1f}s")
    return dest


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_keycloak_dist() -> Path:
    """Unpacked + `kc.sh build`-augmented Keycloak, shared by all stacks (read-only to them).

    The directory name carries a hash of the build options: changing them builds a new
    dist instead of rebuilding one that instances still hardlink to.
    """
    cache = cache_dir()
    opts_hash = hashlib.sha1("\n".join(KEYCLOAK_BUILD_OPTIONS).encode()).hexdigest()[:10]
    dist = cache / f"keycloak-{KEYCLOAK_VERSION}-{opts_hash}"
    stamp = dist / ".worktime-build"
    with file_lock(cache / "keycloak.lock"):  # concurrent stacks (e.g. parallel test runs)
        if stamp.exists() and stamp.read_text().split() == list(KEYCLOAK_BUILD_OPTIONS):
            return dist
        tarball = download_keycloak(cache / "downloads")
        t0 = time.monotonic()
        work = cache / f"{dist.name}.tmp-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        with tarfile.open(tarball) as tf:
            tf.extractall(work, filter="tar")
        (top,) = work.iterdir()  # keycloak-<version>/
        build_log = cache / "keycloak-build.log"
        log(f"building Keycloak ({' '.join(KEYCLOAK_BUILD_OPTIONS)}), log: {build_log}")
        with build_log.open("w") as out:
            rc = subprocess.run(
                [str(top / "bin" / "kc.sh"), "build", *KEYCLOAK_BUILD_OPTIONS],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=keycloak_base_env(),
            ).returncode
        if rc != 0:
            raise StackError(f"kc.sh build failed (exit {rc}):\n{tail(build_log)}")
        (top / ".worktime-build").write_text("\n".join(KEYCLOAK_BUILD_OPTIONS) + "\n")
        shutil.rmtree(dist, ignore_errors=True)
        top.replace(dist)
        shutil.rmtree(work, ignore_errors=True)
        # Older builds (other version/options): running instances are hardlinked copies,
        # so deleting the cache entry does not affect them.
        for old in cache.glob("keycloak-*"):
            if old.is_dir() and old != dist:
                shutil.rmtree(old, ignore_errors=True)
        log(f"Keycloak unpacked and built in {time.monotonic() - t0:.1f}s")
        return dist


def keycloak_base_env() -> dict[str, str]:
    # Stray KC_* / QUARKUS_* variables from the caller's shell would silently reconfigure Keycloak.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KC_", "QUARKUS_"))}
    env["JAVA_OPTS_KC_HEAP"] = KEYCLOAK_HEAP
    return env


def load_build_realm() -> ModuleType:
    # Loaded by path: a `keycloak` package import would collide with python-keycloak.
    spec = importlib.util.spec_from_file_location("worktime_build_realm", BUILD_REALM_PY)
    if spec is None or spec.loader is None:
        raise StackError(f"cannot load {BUILD_REALM_PY}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
