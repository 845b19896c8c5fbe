#!/usr/bin/env python3
"""Native local stack for worktime: PostgreSQL, Redis and Keycloak as plain processes on 127.0.0.1.

No Docker needed.  Missing system packages are apt-installed when running as root.  Stdlib
only (Python 3.11), so it works before the project's virtualenv exists.

    python deploy/localstack.py up --name dev [--fixed-ports] [--ephemeral] \\
          [--setup "CMD"]... [--serve "CMD"]... [--exec "CMD"]
    python deploy/localstack.py status --name dev     # KEY=value lines of the running stack
    python deploy/localstack.py down --name dev       # stop a stack started elsewhere
    python deploy/localstack.py install wrk           # a tool some commands need (`make bench`: wrk)

State lives in <repo>/.stack/<name>/ (data, logs, pid files, stack.env); downloads and the
built Keycloak distribution in ${WORKTIME_CACHE_DIR:-~/.cache/worktime}.

Tests can drive it in-process::

    stack = LocalStack("pytest", ephemeral=True)
    env = stack.start()      # dict of the stack.env variables
    ...
    stack.stop()
"""

import argparse
import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO, Any

REPO = Path(__file__).resolve().parent.parent
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

FIXED_PORTS = {"postgres": 55432, "redis": 56379, "keycloak": 58080, "keycloak_mgmt": 59000, "api": 8000}
KEYCLOAK_READY_TIMEOUT = 180.0
API_READY_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
# Supervision: a child that exits is restarted after 1, 2, 4 ... seconds, at most RESTART_BACKOFF_CAP;
# a child that ran for RESTART_STABLE_AFTER seconds starts again from the shortest delay.
RESTART_BACKOFF_FIRST = 1.0
RESTART_BACKOFF_CAP = 30.0
RESTART_STABLE_AFTER = 60.0


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


# --------------------------------------------------------------------------- processes


def proc_start_time(pid: int) -> str | None:
    """Kernel start time of a pid; guards pid files against pid reuse."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else fields[19]  # a zombie is as good as dead


@dataclass
class PidInfo:
    pid: int
    start: str | None
    stop_signal: int
    group: bool  # signal the whole process group (shell wrappers, kc.sh -> java)

    def alive(self) -> bool:
        return self.start is not None and proc_start_time(self.pid) == self.start

    def to_json(self) -> str:
        return json.dumps({"pid": self.pid, "start": self.start, "signal": self.stop_signal, "group": self.group})

    @classmethod
    def read(cls, path: Path) -> "PidInfo | None":
        try:
            d = json.loads(path.read_text())
            return cls(int(d["pid"]), d.get("start"), int(d["signal"]), bool(d["group"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None


def send(info: PidInfo, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if info.group:
            os.killpg(info.pid, sig)
        else:
            os.kill(info.pid, sig)


def terminate(info: PidInfo, proc: subprocess.Popen[bytes] | None, timeout: float = STOP_TIMEOUT) -> None:
    """Polite signal, wait, then SIGKILL the process group."""
    if not info.alive():
        return
    send(info, info.stop_signal)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            break
        if proc is None and not info.alive():
            break
        time.sleep(0.1)
    else:
        log(f"pid {info.pid} did not stop within {timeout:.0f}s; killing")
    # Leftovers in the group (backends, the JVM under kc.sh, children of a serve command).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(info.pid, signal.SIGKILL)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


def shell_argv(cmd: str) -> list[str]:
    return [shutil.which("bash") or "/bin/sh", "-c", cmd]


# --------------------------------------------------------------------------- provisioning


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
    ("java (17+)", lambda: shutil.which("java"), "openjdk-17-jre-headless"),
    # Headless browser for the web app's tests (Playwright drives /usr/bin/chromium; no downloads).
    ("chromium", lambda: shutil.which("chromium"), "chromium"),
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


# --------------------------------------------------------------------------- ports


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_ports(fixed: bool) -> dict[str, int]:
    if fixed:
        busy = [f"{k}={p}" for k, p in FIXED_PORTS.items() if k != "api" and not port_free(p)]
        if busy:
            raise StackError(f"fixed ports already in use: {', '.join(busy)}")
        return dict(FIXED_PORTS)
    # Hold all sockets open while picking so the kernel hands out distinct ports.
    socks = []
    try:
        for _ in FIXED_PORTS:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return {k: s.getsockname()[1] for k, s in zip(FIXED_PORTS, socks, strict=True)}
    finally:
        for s in socks:
            s.close()


# --------------------------------------------------------------------------- the stack


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    info: PidInfo
    log_path: Path | None
    essential: bool = True  # kept for callers; every child is supervised (restarted when it exits)
    respawn: Callable[[], subprocess.Popen[bytes]] | None = None
    state: str = "running"  # running | restarting | stopped
    restarts: int = 0  # restarts so far
    failures: int = 0  # consecutive quick exits (sets the back-off)
    started_at: float = 0.0  # monotonic
    restart_at: float = 0.0  # monotonic time of the next restart while restarting


class LocalStack:
    """Postgres + Redis + Keycloak for one named stack, plus optional app processes."""

    def __init__(self, name: str = "dev", fixed_ports: bool = False, ephemeral: bool = False) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise StackError(f"invalid stack name {name!r}")
        self.name = name
        self.fixed_ports = fixed_ports
        self.ephemeral = ephemeral
        self.root = STACK_ROOT / name
        self.lock_path = STACK_ROOT / f"{name}.lock"
        self.children: list[Child] = []
        self.env: dict[str, str] = {}
        self.ports: dict[str, int] = {}
        self._lock_fh: IO[str] | None = None
        self._started_at = 0.0
        self._pg_bin: Path | None = None
        as_root = os.geteuid() == 0
        self._pg_user = pwd.getpwnam("postgres") if as_root and _has_user("postgres") else None

    # paths
    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pids(self) -> Path:
        return self.root / "pids"

    @property
    def env_file(self) -> Path:
        return self.root / "stack.env"

    @property
    def pg_data(self) -> Path:
        return self.root / "postgres" / "data"

    @property
    def pg_run(self) -> Path:
        return self.root / "run"

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> dict[str, str]:
        """Start everything, wait until ready, write stack.env; returns its variables."""
        self._started_at = time.monotonic()
        self._acquire_lock()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        log(f"stack '{self.name}' ready in {time.monotonic() - self._started_at:.1f}s")
        return dict(self.env)

    def _start(self) -> None:
        self._reap_orphans()
        self.env_file.unlink(missing_ok=True)  # `status` reports only a fully started stack
        if self.ephemeral:
            shutil.rmtree(self.root, ignore_errors=True)
        for d in (self.logs, self.pids, self.pg_run, self.root / "redis"):
            d.mkdir(parents=True, exist_ok=True)
        if self.ephemeral:  # lets `down` delete it even if this launcher gets SIGKILLed
            (self.root / "EPHEMERAL").touch()
        self._write_pid("launcher", PidInfo(os.getpid(), proc_start_time(os.getpid()), signal.SIGTERM, False))
        ensure_packages()
        self._pg_bin = pg_bindir()
        if os.geteuid() == 0 and self._pg_user is None:
            self._pg_user = pwd.getpwnam("postgres")  # created by the postgresql package
        self.ports = pick_ports(self.fixed_ports)

        # The Keycloak dist (download + build, cold: ~40 s) is prepared while Postgres starts.
        pool = ThreadPoolExecutor(max_workers=1)
        kc_dist: Future[Path] = pool.submit(ensure_keycloak_dist)
        try:
            self._start_postgres()
            self._start_redis()
            self._wait_postgres()
            self._bootstrap_databases()
            dist = kc_dist.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        self._start_keycloak(dist)
        self._wait_redis()
        self._wait_keycloak()
        self.env = self._stack_env()
        self._write_env_file()

    def stop(self) -> None:
        """Stop everything this object started (reverse order) and clean up pid files."""
        if self._lock_fh is None:  # never started (or already stopped): the state isn't ours
            return
        with _signals_deferred():
            for child in reversed(self.children):
                child.state = "stopped"  # never restarted again
                if child.info.alive():
                    log(f"stopping {child.name}")
                terminate(child.info, child.proc)
                (self.pids / f"{child.name}.pid").unlink(missing_ok=True)
            self.children.clear()
            (self.root / "services.json").unlink(missing_ok=True)
            (self.pids / "launcher.pid").unlink(missing_ok=True)
            self.env_file.unlink(missing_ok=True)
            if self.ephemeral:
                shutil.rmtree(self.root, ignore_errors=True)
                self.lock_path.unlink(missing_ok=True)
            self._release_lock()

    def __enter__(self) -> dict[str, str]:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ running state

    def _acquire_lock(self) -> None:
        """One launcher per stack name: an flock held for the launcher's lifetime."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.lock_path.open("a")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            launcher = PidInfo.read(self.pids / "launcher.pid")
            who = f" (launcher pid {launcher.pid})" if launcher and launcher.alive() else ""
            raise AlreadyRunning(f"stack '{self.name}' is already running{who}") from None
        self._lock_fh = fh

    def _release_lock(self) -> None:
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None

    def is_running(self) -> bool:
        if self._lock_fh is not None:
            return True
        if not self.lock_path.exists():
            return False
        with self.lock_path.open("a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fh, fcntl.LOCK_UN)
        return False

    def _write_pid(self, name: str, info: PidInfo) -> None:
        self.pids.mkdir(parents=True, exist_ok=True)
        (self.pids / f"{name}.pid").write_text(info.to_json())

    def _reap_orphans(self) -> None:
        """Services left behind by a launcher that was SIGKILLed: stop them, drop pid files."""
        if not self.pids.is_dir():
            return
        order = {"keycloak": 1, "redis": 2, "postgres": 3, "launcher": 4}  # serve-N first
        for path in sorted(self.pids.glob("*.pid"), key=lambda p: (order.get(p.stem, 0), p.stem)):
            info = PidInfo.read(path)
            if info and info.alive() and path.stem != "launcher":
                log(f"stopping orphaned {path.stem} (pid {info.pid}) from an earlier run")
                terminate(info, None)
            path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ children

    def _spawn(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        log_name: str | None = None,
        stop_signal: int = signal.SIGTERM,
        group: bool = True,
        as_pg_user: bool = False,
        cwd: Path | None = None,
        essential: bool = True,
    ) -> Child:
        log_path = self.logs / f"{log_name or name}.log"

        def popen() -> subprocess.Popen[bytes]:
            with log_path.open("ab") as out:
                out.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} {shlex.join(argv)}\n".encode())
                out.flush()
                kwargs: dict[str, Any] = {}
                if as_pg_user and self._pg_user is not None:
                    kwargs = {"user": self._pg_user.pw_uid, "group": self._pg_user.pw_gid, "extra_groups": []}
                # Own process group: a terminal Ctrl-C reaches only the launcher, which then
                # stops children in order instead of everything dying at once.
                return subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=cwd or REPO,
                    process_group=0,
                    **kwargs,
                )

        proc = popen()
        info = PidInfo(proc.pid, proc_start_time(proc.pid), stop_signal, group)
        child = Child(name, proc, info, log_path, essential, respawn=popen, started_at=time.monotonic())
        self.children.append(child)
        self._write_pid(name, child.info)
        self._write_services()
        return child

    def _check_alive(self, name: str) -> None:
        for child in self.children:
            if child.name == name and child.proc.poll() is not None:
                raise StackError(
                    f"{name} exited with code {child.proc.returncode} during startup; "
                    f"last lines of {child.log_path}:\n{tail(child.log_path) if child.log_path else ''}"
                )

    def _wait_for(self, name: str, check: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            self._check_alive(name)
            if time.monotonic() > deadline:
                log_path = self.logs / f"{name}.log"
                raise StackError(f"{name} not ready after {timeout:.0f}s; last lines of {log_path}:\n{tail(log_path)}")
            time.sleep(0.2)

    # ------------------------------------------------------------------ postgres

    def _pg(self, tool: str) -> str:
        assert self._pg_bin is not None
        exe = self._pg_bin / tool
        return str(exe) if exe.exists() else (shutil.which(tool) or tool)

    def _run_as_pg(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        if self._pg_user is not None:
            kwargs.update(user=self._pg_user.pw_uid, group=self._pg_user.pw_gid, extra_groups=[])
        return subprocess.run(argv, cwd="/", **kwargs)

    def _chown_pg(self, path: Path) -> None:
        if self._pg_user is not None:
            os.chown(path, self._pg_user.pw_uid, self._pg_user.pw_gid)

    def _ensure_traversable(self) -> None:
        """Postgres runs as 'postgres' when we are root: it must be able to reach its data dir."""
        if self._pg_user is None:
            return
        for parent in [self.root, *self.root.parents]:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                log(f"adding o+x to {parent} so the postgres user can reach {self.pg_data}")
                parent.chmod(mode | 0o001)

    def _init_postgres(self) -> None:
        if (self.pg_data / "PG_VERSION").exists():
            return
        log("initdb (new cluster)")
        self._ensure_traversable()
        self.pg_data.parent.mkdir(parents=True, exist_ok=True)
        self._chown_pg(self.pg_data.parent)
        pwfile = self.pg_data.parent / "pwfile"
        pwfile.write_text(PG_SUPERUSER_PASSWORD + "\n")
        self._chown_pg(pwfile)
        locales = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout.split()
        locale = "C.UTF-8" if {"C.utf8", "C.UTF-8"} & set(locales) else "C"
        try:
            result = self._run_as_pg(
                [
                    self._pg("initdb"),
                    "-D",
                    str(self.pg_data),
                    "-U",
                    "postgres",
                    f"--pwfile={pwfile}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "-E",
                    "UTF8",
                    f"--locale={locale}",
                ],
                capture_output=True,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            shutil.rmtree(self.pg_data, ignore_errors=True)
            raise StackError(f"initdb failed:\n{result.stdout.decode()}{result.stderr.decode()}")

    def _start_postgres(self) -> None:
        self._init_postgres()
        self._chown_pg(self.pg_run)
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.ports["postgres"]),
            "unix_socket_directories": str(self.pg_run),
            "max_connections": "300",
        }
        if self.ephemeral:  # throwaway data: trade durability for speed
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        argv = [self._pg("postgres"), "-D", str(self.pg_data)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        # SIGINT = "fast" shutdown, the same signal `pg_ctl stop -m fast` sends.
        self._spawn("postgres", argv, stop_signal=signal.SIGINT, group=False, as_pg_user=True, cwd=self.pg_data)

    def _wait_postgres(self) -> None:
        isready = [
            self._pg("pg_isready"),
            "-q",
            "-h",
            str(self.pg_run),
            "-p",
            str(self.ports["postgres"]),
            "-U",
            "postgres",
            "-d",
            "postgres",
        ]
        self._wait_for("postgres", lambda: subprocess.run(isready).returncode == 0, 60)

    def psql(self, *args: str, database: str = "postgres", **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """psql as the superuser over the instance's unix socket."""
        argv = [
            self._pg("psql"),
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(self.pg_run),
            "-p",
            str(self.ports["postgres"]),
            "-U",
            "postgres",
            "-d",
            database,
            *args,
        ]
        return subprocess.run(argv, text=True, **kwargs)

    def _bootstrap_databases(self) -> None:
        variables = [arg for k, v in DB_PASSWORDS.items() for arg in ("-v", f"{k}={v}")]
        result = self.psql(*variables, "-f", str(BOOTSTRAP_SQL), capture_output=True)
        if result.returncode != 0:
            raise StackError(f"bootstrap.sql failed:\n{result.stdout}{result.stderr}")

    # ------------------------------------------------------------------ redis

    def _start_redis(self) -> None:
        persistence = ["--save", "", "--appendonly", "no"] if self.ephemeral else ["--appendonly", "yes"]
        argv = [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(self.ports["redis"]),
            "--bind",
            "127.0.0.1",
            "--protected-mode",
            "yes",
            "--daemonize",
            "no",
            "--logfile",
            "",
            "--dir",
            str(self.root / "redis"),
            *persistence,
        ]
        self._spawn("redis", argv)

    def _wait_redis(self) -> None:
        def ping() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.ports["redis"]), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    return s.recv(64).startswith(b"+PONG")
            except OSError:
                return False

        self._wait_for("redis", ping, 30)

    # ------------------------------------------------------------------ keycloak

    def _start_keycloak(self, dist: Path) -> None:
        # Per-instance copy made of hardlinks: instant, and data/ (import dir, tmp) is private.
        instance = self.root / "keycloak"
        shutil.rmtree(instance, ignore_errors=True)
        if subprocess.run(["cp", "-al", str(dist), str(instance)], stderr=subprocess.DEVNULL).returncode:
            log("hardlinking the Keycloak dist failed (different filesystem?); copying instead")
            shutil.rmtree(instance, ignore_errors=True)
            shutil.copytree(dist, instance, symlinks=True)
        load_build_realm().write_realm(instance / "data" / "import" / f"{REALM}-realm.json", dev=True)
        # The demo customer's own identity provider (docs/sso.md): the globex organization signs in through it.
        shutil.copyfile(REPO / "keycloak" / "globex-idp.json", instance / "data" / "import" / "globex-idp-realm.json")

        kc, mgmt, pg = self.ports["keycloak"], self.ports["keycloak_mgmt"], self.ports["postgres"]
        env = keycloak_base_env() | {
            "KC_BOOTSTRAP_ADMIN_USERNAME": KEYCLOAK_ADMIN[0],
            "KC_BOOTSTRAP_ADMIN_PASSWORD": KEYCLOAK_ADMIN[1],
            # Resolved by Keycloak from the ${...} placeholder in the realm import file.
            "WORKTIME_BACKEND_CLIENT_SECRET": BACKEND_CLIENT_SECRET,
            "WORKTIME_BFF_CLIENT_SECRET": BFF_CLIENT_SECRET,
            "WORKTIME_WEB_URL": f"http://127.0.0.1:{self.ports['api']}",
            # Where the realm's clients send back-channel logout tokens (the stack's API).
            "WORKTIME_API_URL": f"http://127.0.0.1:{self.ports['api']}",
        }
        argv = [
            str(instance / "bin" / "kc.sh"),
            "start",
            "--optimized",
            "--http-enabled=true",
            "--http-host=127.0.0.1",
            f"--http-port={kc}",
            "--http-management-host=127.0.0.1",
            f"--http-management-port={mgmt}",
            # A full URL pins the issuer to exactly http://127.0.0.1:<port>/realms/worktime.
            f"--hostname=http://127.0.0.1:{kc}",
            "--hostname-strict=true",
            f"--db-url=jdbc:postgresql://127.0.0.1:{pg}/keycloak",
            "--db-username=keycloak",
            f"--db-password={DB_PASSWORDS['keycloak_password']}",
            "--db-pool-max-size=20",
            # Single node: no JGroups discovery/ports (a run-time option since Keycloak 26.x).
            "--cache=local",
            "--import-realm",
            "--log-console-color=false",
            # The readiness poll would otherwise log a "health down" line every 200 ms.
            "--log-level=info,io.smallrye.health:warn",
        ]
        self._spawn("keycloak", argv, env=env, cwd=instance)

    def _wait_keycloak(self) -> None:
        mgmt = f"http://127.0.0.1:{self.ports['keycloak_mgmt']}/health/ready"
        self._wait_for("keycloak", lambda: http_ok(mgmt), KEYCLOAK_READY_TIMEOUT)
        discovery = f"http://127.0.0.1:{self.ports['keycloak']}/realms/{REALM}/.well-known/openid-configuration"
        # Under load the realm may answer a moment after readiness: give it a few seconds.
        deadline = time.monotonic() + 20
        while not http_ok(discovery) and time.monotonic() < deadline:
            time.sleep(0.5)
        if not http_ok(discovery):
            raise StackError(f"Keycloak is up but realm '{REALM}' is missing; see {self.logs / 'keycloak.log'}")

    # ------------------------------------------------------------------ environment

    def _stack_env(self) -> dict[str, str]:
        p = self.ports
        pg = f"127.0.0.1:{p['postgres']}"
        env = {
            "WORKTIME_ENV": "test" if self.ephemeral else "development",
            "WORKTIME_API_URL": f"http://127.0.0.1:{p['api']}",
            "WORKTIME_DATABASE_URL": f"postgresql+asyncpg://worktime_app:{DB_PASSWORDS['app_password']}@{pg}/worktime",
            "WORKTIME_DATABASE_OWNER_URL": f"postgresql+asyncpg://worktime_owner:{DB_PASSWORDS['owner_password']}@{pg}/worktime",
            "WORKTIME_DATABASE_SUPERUSER_URL": f"postgresql://postgres:{PG_SUPERUSER_PASSWORD}@{pg}/postgres",
            "WORKTIME_REDIS_URL": f"redis://127.0.0.1:{p['redis']}/0",
            "WORKTIME_KEYCLOAK_URL": f"http://127.0.0.1:{p['keycloak']}",
            "WORKTIME_KEYCLOAK_REALM": REALM,
            # The dev overlay's CLI and test clients may call the API too (never in production).
            "WORKTIME_KEYCLOAK_ALLOWED_CLIENTS": ",".join(
                ["worktime-web", "worktime-bff", "worktime-cli", "worktime-backend", "worktime-test-service"]
            ),
            "WORKTIME_KEYCLOAK_ADMIN_CLIENT_ID": BACKEND_CLIENT_ID,
            "WORKTIME_KEYCLOAK_ADMIN_CLIENT_SECRET": BACKEND_CLIENT_SECRET,
            "WORKTIME_KEYCLOAK_MANAGEMENT_URL": f"http://127.0.0.1:{p['keycloak_mgmt']}",
            "WORKTIME_WEB_CLIENT_ID": BFF_CLIENT_ID,
            "WORKTIME_WEB_CLIENT_SECRET": BFF_CLIENT_SECRET,
            "KEYCLOAK_ADMIN_USER": KEYCLOAK_ADMIN[0],
            "KEYCLOAK_ADMIN_PASSWORD": KEYCLOAK_ADMIN[1],
            "DEMO_PASSWORD": DEMO_PASSWORD,
        }
        for i, user in enumerate(load_build_realm().demo_users(), 1):
            env[f"DEMO_USER_{i}"] = f"{user['email']} org={user['org']} role={user['role']}"
        return env

    def _write_env_file(self) -> None:
        self.env_file.write_text("".join(f"{k}={env_quote(v)}\n" for k, v in self.env.items()))

    def command_env(self) -> dict[str, str]:
        return {**os.environ, **self.env, "WORKTIME_API_PORT": str(self.ports["api"])}

    # ------------------------------------------------------------------ app commands

    def run_setup(self, commands: list[str]) -> None:
        for cmd in commands:
            log(f"setup: {cmd}")
            rc = subprocess.run(shell_argv(cmd), env=self.command_env(), cwd=REPO).returncode
            if rc != 0:
                raise StackError(f"setup command failed (exit {rc}): {cmd}")

    def start_serve(self, commands: list[str]) -> None:
        for i, cmd in enumerate(commands, 1):
            child = self._spawn(f"serve-{i}", shell_argv(cmd), env=self.command_env())
            log(f"serve-{i}: {cmd}  (pid {child.proc.pid}, log {child.log_path})")
        if commands:
            self._wait_api()

    def _wait_api(self, timeout: float = API_READY_TIMEOUT) -> None:
        """Give the served API time to bind WORKTIME_API_PORT before --exec / the banner.

        Not fatal: a serve command may be a worker only.  A dying serve command is restarted.
        """
        port = self.ports["api"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_children()
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                log(f"API port {port} is accepting connections")
                return
            time.sleep(0.2)
        log(f"WARNING: nothing listening on API port {port} after {timeout:.0f}s; continuing")

    def run_exec(self, cmd: str) -> int:
        """Run CMD in the foreground (same process group, so it owns the terminal)."""
        log(f"exec: {cmd}")
        proc = subprocess.Popen(shell_argv(cmd), env=self.command_env(), cwd=REPO)
        try:
            while True:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    return exit_code(proc.wait(timeout=0.5))
                self.check_children()
        except KeyboardInterrupt:  # the terminal sent SIGINT to CMD as well: let it finish
            return _wait_or_kill(proc, None)
        except StopRequested:
            return _wait_or_kill(proc, signal.SIGTERM)

    def check_children(self) -> None:
        """Supervise: a service or serve command that has exited is restarted, with back-off."""
        now = time.monotonic()
        changed = False
        for child in self.children:
            if child.state == "running" and child.proc.poll() is not None:
                code = exit_code(child.proc.returncode)
                if now - child.started_at >= RESTART_STABLE_AFTER:
                    child.failures = 0
                delay = min(RESTART_BACKOFF_CAP, RESTART_BACKOFF_FIRST * 2**child.failures)
                child.failures += 1
                child.state, child.restart_at = "restarting", now + delay
                # Leftovers of its process group (the JVM under kc.sh, a serve command's children) would
                # hold the port the restarted process needs.
                if child.info.group:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(child.info.pid, signal.SIGKILL)
                log(
                    f"!!! {child.name} (pid {child.info.pid}) exited with code {code}; restarting in {delay:.0f}s "
                    f"(restart #{child.restarts + 1}); last lines of {child.log_path}:\n"
                    + (tail(child.log_path, 10) if child.log_path else "")
                )
                changed = True
            elif child.state == "restarting" and now >= child.restart_at and child.respawn is not None:
                child.proc = child.respawn()
                child.info = PidInfo(
                    child.proc.pid, proc_start_time(child.proc.pid), child.info.stop_signal, child.info.group
                )
                child.state, child.started_at = "running", time.monotonic()
                child.restarts += 1
                self._write_pid(child.name, child.info)
                log(f"restarted {child.name} (pid {child.proc.pid}, restart #{child.restarts})")
                changed = True
        if changed:
            self._write_services()

    def monitor(self) -> None:
        """Supervise the children until a signal stops the stack."""
        while True:
            self.check_children()
            time.sleep(0.5)

    def _write_services(self) -> None:
        """services.json: each child's state, for `status` (written atomically)."""
        services = [
            {"name": c.name, "state": c.state, "pid": c.info.pid, "start": c.info.start, "restarts": c.restarts}
            for c in self.children
        ]
        tmp = self.root / "services.json.tmp"
        tmp.write_text(json.dumps(services))
        tmp.replace(self.root / "services.json")

    def service_lines(self) -> list[str]:
        """`# service NAME STATE pid=N restarts=N` for each child, as the launcher last recorded it."""
        try:
            services = json.loads((self.root / "services.json").read_text())
        except (OSError, ValueError):
            return []
        lines = []
        for service in services:
            state = service["state"]
            if state == "running" and proc_start_time(int(service["pid"])) != service.get("start"):
                state = "stopped"  # gone, and the launcher has not noticed (or is gone too)
            lines.append(f"# service {service['name']} {state} pid={service['pid']} restarts={service['restarts']}")
        return lines

    def banner(self, serve: list[str]) -> str:
        p, e = self.ports, self.env
        kc = e["WORKTIME_KEYCLOAK_URL"]
        rel = self.root.relative_to(REPO) if self.root.is_relative_to(REPO) else self.root
        lines = [
            "",
            f"==== worktime local stack '{self.name}' is up ({'ephemeral' if self.ephemeral else 'persistent'}) ====",
            f"  Web app         http://127.0.0.1:{p['api']}/"
            + ("" if serve else "   (nothing serving it: add --serve)"),
            f"  API docs        http://127.0.0.1:{p['api']}/api/docs"
            + ("" if serve else "   (nothing serving it: add --serve)"),
            f"  Keycloak admin  {kc}/admin/  (user {KEYCLOAK_ADMIN[0]}, password {KEYCLOAK_ADMIN[1]})",
            f"  Account console {kc}/realms/{REALM}/account/",
            f"  Demo logins     password '{DEMO_PASSWORD}':",
        ]
        lines += [f"                    {e[k]}" for k in e if k.startswith("DEMO_USER_")]
        lines += [f"  Logs            {rel}/logs/", f"  Env             set -a; . {rel}/stack.env; set +a"]
        lines += [f"  serve-{i}         {cmd}" for i, cmd in enumerate(serve, 1)]
        lines += ["", self.env_file.read_text().rstrip(), "", "Press Ctrl-C to stop."]
        return "\n".join(lines)


# --------------------------------------------------------------------------- helpers


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def env_quote(value: str) -> str:
    """Quote for a file that is both `. stack.env`-able and dotenv-parsable."""
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]*", value):
        return value
    return '"' + re.sub(r'(["\\$`])', r"\\\1", value) + '"'


def exit_code(returncode: int) -> int:
    """Shell convention: killed by signal N -> 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def _wait_or_kill(proc: subprocess.Popen[bytes], sig: int | None, timeout: float = 15) -> int:
    if sig is not None:
        proc.send_signal(sig)
    try:
        return exit_code(proc.wait(timeout=timeout))
    except subprocess.TimeoutExpired:
        proc.kill()
        return exit_code(proc.wait())


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Let cleanup finish even if Ctrl-C is pressed again (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        # Discard what arrived meanwhile: we are stopping anyway.
        for sig in signal.sigpending() & sigs:
            old = signal.signal(sig, signal.SIG_IGN)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
            signal.signal(sig, old)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, sigs)


def _raise_stop(signum: int, _frame: object) -> None:
    raise StopRequested(signal.Signals(signum).name)


# --------------------------------------------------------------------------- CLI


def cmd_up(args: argparse.Namespace) -> int:
    # Explicit: a shell starting us in the background (`cmd &`) sets SIGINT to "ignore".
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGHUP, _raise_stop)
    stack = LocalStack(args.name, fixed_ports=args.fixed_ports, ephemeral=args.ephemeral)
    try:
        stack.start()
    except AlreadyRunning as exc:
        log(f"{exc}; use `status`/`down --name {args.name}`")
        return 2
    except (KeyboardInterrupt, StopRequested):
        log("interrupted during startup; stopped")
        return 130
    try:
        stack.run_setup(args.setup)
        stack.start_serve(args.serve)
        if args.exec is not None:
            rc = stack.run_exec(args.exec)
            log(f"exec finished with exit code {rc}")
            return rc
        print(stack.banner(args.serve), flush=True)
        stack.monitor()
        return 0  # unreachable: monitor() returns only by a signal's exception
    except (KeyboardInterrupt, StopRequested):
        log("stopping (signal received)")
        return 0 if args.exec is None else 130
    finally:
        stack.stop()
        log(f"stack '{args.name}' stopped" + (" and deleted" if args.ephemeral else ""))


def cmd_status(args: argparse.Namespace) -> int:
    stack = LocalStack(args.name)
    if not stack.is_running() or not stack.env_file.exists():
        log(f"stack '{args.name}' is not running" + (" (still starting?)" if stack.is_running() else ""))
        return 1
    sys.stdout.write(stack.env_file.read_text())
    # Service states after the KEY=value lines, as comments: `. stack.env`-style parsers skip them.
    lines = stack.service_lines()
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    stack = LocalStack(args.name)
    launcher = PidInfo.read(stack.pids / "launcher.pid")
    if launcher is not None and launcher.alive() and launcher.pid != os.getpid():
        log(f"asking launcher pid {launcher.pid} to stop the stack")
        send(launcher, signal.SIGTERM)
        deadline = time.monotonic() + 90
        while launcher.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        if launcher.alive():
            log("launcher did not exit in time; stopping services directly")
    elif not stack.is_running():
        log(f"stack '{args.name}' is not running")
    # Anything left (launcher SIGKILLed, or it timed out): stop by pid file.
    stack._reap_orphans()
    if (stack.root / "EPHEMERAL").exists() and not stack.is_running():
        shutil.rmtree(stack.root, ignore_errors=True)
        stack.lock_path.unlink(missing_ok=True)
    stack.env_file.unlink(missing_ok=True)
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    unknown = [name for name in args.tools if name not in OPTIONAL_PACKAGES]
    if unknown:
        raise StackError(f"unknown tool {', '.join(unknown)}; known: {', '.join(OPTIONAL_PACKAGES)}")
    ensure_packages([OPTIONAL_PACKAGES[name] for name in args.tools])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="worktime native local stack (Postgres, Redis, Keycloak)")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the stack and block until Ctrl-C (or until --exec finishes)")
    up.add_argument("--name", default="dev")
    up.add_argument(
        "--fixed-ports",
        action="store_true",
        help="Postgres 55432, Redis 56379, Keycloak 58080 (mgmt 59000), API 8000",
    )
    up.add_argument(
        "--ephemeral",
        action="store_true",
        help="fresh state, durability off, everything deleted on stop; WORKTIME_ENV=test",
    )
    up.add_argument(
        "--setup",
        action="append",
        default=[],
        metavar="CMD",
        help="run after the stack is ready, in order, with the stack env (repeatable)",
    )
    up.add_argument(
        "--serve",
        action="append",
        default=[],
        metavar="CMD",
        help="long-running app process; log in .stack/<name>/logs/serve-N.log (repeatable)",
    )
    up.add_argument("--exec", metavar="CMD", help="run CMD, then stop the stack and exit with its code")
    for name in ("status", "down"):
        p = sub.add_parser(name)
        p.add_argument("--name", default="dev")
    install = sub.add_parser("install", help="apt-install tools some commands need, when missing")
    install.add_argument("tools", nargs="+", metavar="TOOL", help=f"one of: {', '.join(OPTIONAL_PACKAGES)}")
    args = parser.parse_args(argv)
    handler = {"up": cmd_up, "status": cmd_status, "down": cmd_down, "install": cmd_install}[args.command]
    try:
        return handler(args)
    except StackError as exc:
        log(f"ERROR: {exc}")
        return 1
    except subprocess.CalledProcessError as exc:
        log(f"ERROR: command failed (exit {exc.returncode}): {shlex.join(map(str, exc.cmd))}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
