"""The services of a stack (PostgreSQL, PgBouncer, Redis, Keycloak): how each starts under the supervisor and
how the launcher knows it is ready. Ports are picked here too."""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .config import (
    BACKEND_CLIENT_SECRET,
    BFF_CLIENT_SECRET,
    BOOTSTRAP_SQL,
    DB_PASSWORDS,
    FIXED_PORTS,
    KEYCLOAK_ADMIN,
    KEYCLOAK_READY_TIMEOUT,
    PG_SUPERUSER_PASSWORD,
    REALM,
    REPO,
    StackError,
    log,
)
from .install import keycloak_base_env, load_build_realm, pg_bindir
from .supervisor import Supervisor


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


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class Postgres:
    """A cluster in ``root/postgres/data``, reached over a unix socket in ``root/run`` and on 127.0.0.1:port.

    As root, it runs as the ``postgres`` user (``user``), which must be able to reach its data directory.
    """

    def __init__(
        self, sup: Supervisor, root: Path, port: int, *, ephemeral: bool, user: pwd.struct_passwd | None
    ) -> None:
        self.sup, self.root, self.port, self.ephemeral, self.user = sup, root, port, ephemeral, user
        self.bin = pg_bindir()
        self.data = root / "postgres" / "data"
        self.run_dir = root / "run"

    def _tool(self, tool: str) -> str:
        exe = self.bin / tool if self.bin is not None else None
        return str(exe) if exe is not None and exe.exists() else (shutil.which(tool) or tool)

    def _run_as_pg(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        if self.user is not None:
            kwargs.update(user=self.user.pw_uid, group=self.user.pw_gid, extra_groups=[])
        return subprocess.run(argv, cwd="/", **kwargs)

    def _chown(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)

    def _ensure_traversable(self) -> None:
        """Postgres runs as 'postgres' when we are root: it must be able to reach its data dir."""
        if self.user is None:
            return
        for parent in [self.root, *self.root.parents]:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                log(f"adding o+x to {parent} so the postgres user can reach {self.data}")
                parent.chmod(mode | 0o001)

    def _init(self) -> None:
        if (self.data / "PG_VERSION").exists():
            return
        log("initdb (new cluster)")
        self._ensure_traversable()
        self.data.parent.mkdir(parents=True, exist_ok=True)
        self._chown(self.data.parent)
        pwfile = self.data.parent / "pwfile"
        pwfile.write_text(PG_SUPERUSER_PASSWORD + "\n")
        self._chown(pwfile)
        locales = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout.split()
        locale = "C.UTF-8" if {"C.utf8", "C.UTF-8"} & set(locales) else "C"
        try:
            result = self._run_as_pg(
                [
                    self._tool("initdb"),
                    "-D",
                    str(self.data),
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
            shutil.rmtree(self.data, ignore_errors=True)
            raise StackError(f"initdb failed:\n{result.stdout.decode()}{result.stderr.decode()}")

    def start(self) -> None:
        self._init()
        self._chown(self.run_dir)
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.run_dir),
            "max_connections": "300",
        }
        if self.ephemeral:  # throwaway data: trade durability for speed
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        argv = [self._tool("postgres"), "-D", str(self.data)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        # SIGINT = "fast" shutdown, the same signal `pg_ctl stop -m fast` sends.
        self.sup.spawn("postgres", argv, stop_signal=signal.SIGINT, group=False, user=self.user, cwd=self.data)

    def wait(self) -> None:
        isready = [
            self._tool("pg_isready"),
            "-q",
            "-h",
            str(self.run_dir),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
        ]
        self.sup.wait_for("postgres", lambda: subprocess.run(isready).returncode == 0, 60)

    def psql(self, *args: str, database: str = "postgres", **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """psql as the superuser over the instance's unix socket."""
        argv = [
            self._tool("psql"),
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(self.run_dir),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
            *args,
        ]
        return subprocess.run(argv, text=True, **kwargs)

    def bootstrap(self) -> None:
        variables = [arg for k, v in DB_PASSWORDS.items() for arg in ("-v", f"{k}={v}")]
        result = self.psql(*variables, "-f", str(BOOTSTRAP_SQL), capture_output=True)
        if result.returncode != 0:
            raise StackError(f"bootstrap.sql failed:\n{result.stdout}{result.stderr}")


class Redis:
    def __init__(self, sup: Supervisor, root: Path, port: int, *, ephemeral: bool) -> None:
        self.sup, self.root, self.port, self.ephemeral = sup, root, port, ephemeral

    def start(self) -> None:
        persistence = ["--save", "", "--appendonly", "no"] if self.ephemeral else ["--appendonly", "yes"]
        argv = [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(self.port),
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
        self.sup.spawn("redis", argv)

    def wait(self) -> None:
        def ping() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    return s.recv(64).startswith(b"+PONG")
            except OSError:
                return False

        self.sup.wait_for("redis", ping, 30)


class PgBouncer:
    """PgBouncer in transaction pooling mode in front of the stack's Postgres (Debian's package).

    Every transaction may land on a different server connection, which is safe here because the tenant
    is bound with ``set_config(..., true)`` inside each transaction. Debian's 1.18 cannot track
    prepared statements (``max_prepared_statements`` came in 1.21), so clients behind it turn their
    statement caches off (``WORKTIME_DATABASE_BEHIND_PGBOUNCER``). It refuses to run as root: as root
    it runs as the ``postgres`` user, like Postgres.
    """

    def __init__(
        self, sup: Supervisor, root: Path, port: int, postgres_port: int, *, user: pwd.struct_passwd | None
    ) -> None:
        self.sup, self.port, self.postgres_port, self.user = sup, port, postgres_port, user
        self.dir = root / "pgbouncer"

    def start(self, statement_timeout_ms: int = 15_000) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        users = {"worktime_app": DB_PASSWORDS["app_password"], "worktime_owner": DB_PASSWORDS["owner_password"]}
        (self.dir / "userlist.txt").write_text("".join(f'"{u}" "{pw}"\n' for u, pw in users.items()))
        # Startup parameters PgBouncer does not track are refused unless ignored; the statement timeout
        # the app asks for at connect time is set on every server connection instead.
        server = f"host=127.0.0.1 port={self.postgres_port} dbname=worktime"
        ini = f"""[databases]
worktime = {server} connect_query='SET statement_timeout = {statement_timeout_ms}'

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {self.dir / "userlist.txt"}
pool_mode = transaction
default_pool_size = 20
max_client_conn = 500
ignore_startup_parameters = statement_timeout,extra_float_digits
server_reset_query =
logfile =
pidfile =
"""
        (self.dir / "pgbouncer.ini").write_text(ini)
        for path in (self.dir, self.dir / "userlist.txt", self.dir / "pgbouncer.ini"):
            if self.user is not None:
                os.chown(path, self.user.pw_uid, self.user.pw_gid)
        exe = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        self.sup.spawn("pgbouncer", [exe, str(self.dir / "pgbouncer.ini")], user=self.user, cwd=self.dir)

    def wait(self) -> None:
        def accepting() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                return False

        self.sup.wait_for("pgbouncer", accepting, 30)


class Keycloak:
    """A per-stack instance of the shared, pre-built dist, importing the worktime realm (dev overlay)."""

    def __init__(self, sup: Supervisor, root: Path, ports: dict[str, int]) -> None:
        self.sup, self.root, self.ports = sup, root, ports

    def start(self, dist: Path) -> None:
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
        self.sup.spawn("keycloak", argv, env=env, cwd=instance)

    def wait(self) -> None:
        mgmt = f"http://127.0.0.1:{self.ports['keycloak_mgmt']}/health/ready"
        self.sup.wait_for("keycloak", lambda: http_ok(mgmt), KEYCLOAK_READY_TIMEOUT)
        discovery = f"http://127.0.0.1:{self.ports['keycloak']}/realms/{REALM}/.well-known/openid-configuration"
        # Under load the realm may answer a moment after readiness: give it a few seconds.
        deadline = time.monotonic() + 20
        while not http_ok(discovery) and time.monotonic() < deadline:
            time.sleep(0.5)
        if not http_ok(discovery):
            raise StackError(f"Keycloak is up but realm '{REALM}' is missing; see {self.sup.logs / 'keycloak.log'}")
