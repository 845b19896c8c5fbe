"""Processes the stack owns: pid files that survive pid reuse, signals, and stopping a process group."""

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .config import STOP_TIMEOUT, log


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


def has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def exit_code(returncode: int) -> int:
    """Shell convention: killed by signal N -> 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def wait_or_kill(proc: subprocess.Popen[bytes], sig: int | None, timeout: float = 15) -> int:
    if sig is not None:
        proc.send_signal(sig)
    try:
        return exit_code(proc.wait(timeout=timeout))
    except subprocess.TimeoutExpired:
        proc.kill()
        return exit_code(proc.wait())


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
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
