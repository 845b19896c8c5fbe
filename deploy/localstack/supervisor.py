"""The supervisor: children in their own process groups, restarted with back-off when they exit.

Each child's state goes to ``services.json`` (read by `status`) and its pid to ``pids/NAME.pid`` (read by
`down` and by the next launcher to stop orphans of a launcher that was SIGKILLed).
"""

import contextlib
import json
import os
import pwd
import shlex
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import REPO, StackError, log, tail
from .processes import PidInfo, exit_code, proc_start_time, terminate

# Supervision: a child that exits is restarted after 1, 2, 4 ... seconds, at most RESTART_BACKOFF_CAP;
# a child that ran for RESTART_STABLE_AFTER seconds starts again from the shortest delay.
RESTART_BACKOFF_FIRST = 1.0
RESTART_BACKOFF_CAP = 30.0
RESTART_STABLE_AFTER = 60.0


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


class Supervisor:
    """The children of one stack directory (``root``): spawn, watch, restart, report, stop."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.children: list[Child] = []

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pids(self) -> Path:
        return self.root / "pids"

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

    def stop_children(self) -> None:
        """Stop every child, newest first, and forget them (a stopped child is never restarted)."""
        for child in reversed(self.children):
            child.state = "stopped"
            if child.info.alive():
                log(f"stopping {child.name}")
            terminate(child.info, child.proc)
            (self.pids / f"{child.name}.pid").unlink(missing_ok=True)
        self.children.clear()
        (self.root / "services.json").unlink(missing_ok=True)

    def spawn(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        log_name: str | None = None,
        stop_signal: int = signal.SIGTERM,
        group: bool = True,
        user: pwd.struct_passwd | None = None,
        cwd: Path | None = None,
        essential: bool = True,
    ) -> Child:
        log_path = self.logs / f"{log_name or name}.log"

        def popen() -> subprocess.Popen[bytes]:
            with log_path.open("ab") as out:
                out.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} {shlex.join(argv)}\n".encode())
                out.flush()
                kwargs: dict[str, Any] = {}
                if user is not None:
                    kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
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

    def check_alive(self, name: str) -> None:
        for child in self.children:
            if child.name == name and child.proc.poll() is not None:
                raise StackError(
                    f"{name} exited with code {child.proc.returncode} during startup; "
                    f"last lines of {child.log_path}:\n{tail(child.log_path) if child.log_path else ''}"
                )

    def wait_for(self, name: str, check: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            self.check_alive(name)
            if time.monotonic() > deadline:
                log_path = self.logs / f"{name}.log"
                raise StackError(f"{name} not ready after {timeout:.0f}s; last lines of {log_path}:\n{tail(log_path)}")
            time.sleep(0.2)

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
