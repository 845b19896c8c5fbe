"""LocalStack: one named stack (Postgres + PgBouncer + Redis + Keycloak, plus optional app processes) from
start to stop."""

import contextlib
import fcntl
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO

from .config import (
    API_READY_TIMEOUT,
    BACKEND_CLIENT_ID,
    BACKEND_CLIENT_SECRET,
    BFF_CLIENT_ID,
    BFF_CLIENT_SECRET,
    DB_PASSWORDS,
    DEMO_PASSWORD,
    KEYCLOAK_ADMIN,
    PG_SUPERUSER_PASSWORD,
    REALM,
    REPO,
    STACK_ROOT,
    AlreadyRunning,
    StackError,
    StopRequested,
    log,
)
from .install import ensure_keycloak_dist, ensure_packages, load_build_realm
from .processes import PidInfo, exit_code, has_user, proc_start_time, shell_argv, signals_deferred, wait_or_kill
from .services import Keycloak, PgBouncer, Postgres, Redis, pick_ports
from .supervisor import Supervisor


class LocalStack(Supervisor):
    """Postgres + Redis + Keycloak for one named stack, plus optional app processes."""

    def __init__(
        self, name: str = "dev", fixed_ports: bool = False, ephemeral: bool = False, via_pgbouncer: bool = False
    ) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise StackError(f"invalid stack name {name!r}")
        super().__init__(STACK_ROOT / name)
        self.name = name
        self.fixed_ports = fixed_ports
        self.ephemeral = ephemeral
        # PgBouncer always runs (its own URL is in the env); with via_pgbouncer the app's runtime
        # URL goes through it too.
        self.via_pgbouncer = via_pgbouncer
        self.lock_path = STACK_ROOT / f"{name}.lock"
        self.env: dict[str, str] = {}
        self.ports: dict[str, int] = {}
        self.postgres: Postgres | None = None
        self._lock_fh: IO[str] | None = None
        self._started_at = 0.0
        as_root = os.geteuid() == 0
        self._pg_user = pwd.getpwnam("postgres") if as_root and has_user("postgres") else None

    @property
    def env_file(self) -> Path:
        return self.root / "stack.env"

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
        self._prepare_state()
        ensure_packages()
        if os.geteuid() == 0 and self._pg_user is None:
            self._pg_user = pwd.getpwnam("postgres")  # created by the postgresql package
        self.ports = pick_ports(self.fixed_ports)
        postgres = self.postgres = Postgres(
            self, self.root, self.ports["postgres"], ephemeral=self.ephemeral, user=self._pg_user
        )
        redis = Redis(self, self.root, self.ports["redis"], ephemeral=self.ephemeral)
        pgbouncer = PgBouncer(self, self.root, self.ports["pgbouncer"], self.ports["postgres"], user=self._pg_user)
        keycloak = Keycloak(self, self.root, self.ports)
        # The Keycloak dist (download + build, cold: ~40 s) is prepared while Postgres starts.
        pool = ThreadPoolExecutor(max_workers=1)
        kc_dist: Future[Path] = pool.submit(ensure_keycloak_dist)
        try:
            postgres.start()
            redis.start()
            postgres.wait()
            postgres.bootstrap()
            pgbouncer.start()
            dist = kc_dist.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        keycloak.start(dist)
        redis.wait()
        pgbouncer.wait()
        keycloak.wait()
        self.env = self._stack_env()
        self._write_env_file()

    def _prepare_state(self) -> None:
        """Orphans of an earlier launcher stopped, directories made, our pid recorded."""
        self._reap_orphans()
        self.env_file.unlink(missing_ok=True)  # `status` reports only a fully started stack
        if self.ephemeral:
            shutil.rmtree(self.root, ignore_errors=True)
        for d in (self.logs, self.pids, self.root / "run", self.root / "redis"):
            d.mkdir(parents=True, exist_ok=True)
        if self.ephemeral:  # lets `down` delete it even if this launcher gets SIGKILLed
            (self.root / "EPHEMERAL").touch()
        self._write_pid("launcher", PidInfo(os.getpid(), proc_start_time(os.getpid()), signal.SIGTERM, False))

    def stop(self) -> None:
        """Stop everything this object started (reverse order) and clean up pid files."""
        if self._lock_fh is None:  # never started (or already stopped): the state isn't ours
            return
        with signals_deferred():
            self.stop_children()
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

    # ------------------------------------------------------------------ environment

    def _stack_env(self) -> dict[str, str]:
        p = self.ports
        pg = f"127.0.0.1:{p['postgres']}"
        bouncer = (
            f"postgresql+asyncpg://worktime_app:{DB_PASSWORDS['app_password']}@127.0.0.1:{p['pgbouncer']}/worktime"
        )
        env = {
            "WORKTIME_ENV": "test" if self.ephemeral else "development",
            "WORKTIME_API_URL": f"http://127.0.0.1:{p['api']}",
            "WORKTIME_DATABASE_URL": f"postgresql+asyncpg://worktime_app:{DB_PASSWORDS['app_password']}@{pg}/worktime",
            "WORKTIME_PGBOUNCER_URL": bouncer,
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
        if self.via_pgbouncer:
            env["WORKTIME_DATABASE_URL"] = bouncer
            env["WORKTIME_DATABASE_BEHIND_PGBOUNCER"] = "true"
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
            child = self.spawn(f"serve-{i}", shell_argv(cmd), env=self.command_env())
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
            return wait_or_kill(proc, None)
        except StopRequested:
            return wait_or_kill(proc, signal.SIGTERM)

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


def env_quote(value: str) -> str:
    """Quote for a file that is both `. stack.env`-able and dotenv-parsable."""
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]*", value):
        return value
    return '"' + re.sub(r'(["\\$`])', r"\\\1", value) + '"'
