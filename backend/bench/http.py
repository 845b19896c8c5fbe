"""HTTP load: uvicorn subprocesses started and stopped by the bench, and wrk runs against them."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 60.0


class BenchError(Exception):
    """A failure that invalidates the run (the message says why)."""


def ensure_wrk() -> str:
    """The wrk executable; apt-installed through deploy/localstack.py (as the stack's own packages are)."""
    found = shutil.which("wrk")
    if found is None:
        subprocess.run([sys.executable, str(REPO / "deploy" / "localstack.py"), "install", "wrk"], check=True)
        found = shutil.which("wrk")
    if found is None:
        raise BenchError("wrk is not installed: python3 deploy/localstack.py install wrk")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """``uvicorn <factory> --factory``: one worker on uvloop + httptools, on a free loopback port, output to
    ``<log_dir>/<name>.log``."""

    def __init__(
        self,
        name: str,
        factory: str,
        *,
        log_dir: Path,
        ready_path: str,
        env: dict[str, str] | None = None,
        access_log: bool = True,
    ) -> None:
        self.name, self.factory, self.ready_path = name, factory, ready_path
        self.env = {**os.environ, **(env or {})}
        self.access_log = access_log
        self.log_path = log_dir / f"{name}.log"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "uvicorn", self.factory, "--factory", "--host", "127.0.0.1"]
        argv += ["--port", str(self.port), "--workers", "1", "--loop", "uvloop", "--http", "httptools"]
        return argv if self.access_log else [*argv, "--no-access-log"]

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self.argv(), stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=REPO, start_new_session=True
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BenchError(f"{self.name} exited with {self._proc.returncode}; see {self.log_path}")
            if self._answers():
                return
            time.sleep(0.2)
        self.stop()
        raise BenchError(f"{self.name} did not answer {self.ready_path} within {READY_TIMEOUT:.0f} s")

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.base_url + self.ready_path, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # it speaks HTTP, which is all readiness means here
        except OSError:
            return False

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_DURATION = r"([\d.]+)(us|ms|s|m|h)"


def parse_wrk(output: str) -> WrkResult:
    """Requests/sec and the 50 % / 99 % latency lines of ``wrk --latency``; raises on socket errors or
    non-2xx/3xx responses."""
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket_errors and any(int(n) for n in socket_errors.groups()):
        raise BenchError(f"wrk reported socket errors ({socket_errors.group(0)}):\n{output}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if bad and int(bad.group(1)):
        raise BenchError(f"wrk got {bad.group(1)} non-2xx/3xx responses:\n{output}")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(rf"^\s+50%\s+{_DURATION}\s*$", output, re.MULTILINE)
    p99 = re.search(rf"^\s+99%\s+{_DURATION}\s*$", output, re.MULTILINE)
    total = re.search(r"(\d+) requests in", output)
    if not (rps and p50 and p99 and total):
        raise BenchError(f"unexpected wrk output:\n{output}")
    return WrkResult(
        requests_per_second=float(rps.group(1)),
        p50_ms=float(p50.group(1)) * _UNITS_MS[p50.group(2)],
        p99_ms=float(p99.group(1)) * _UNITS_MS[p99.group(2)],
        requests=int(total.group(1)),
    )


@dataclass(frozen=True)
class Load:
    """wrk's knobs: BENCH_THREADS (1, so the 2-core machine keeps a core for server + Postgres),
    BENCH_CONNECTIONS (16), BENCH_DURATION (10 s), BENCH_WARMUP (2 s, discarded)."""

    threads: int = 1
    connections: int = 16
    duration: int = 10
    warmup: int = 2

    @classmethod
    def from_env(cls) -> Load:
        return cls(
            threads=int(os.environ.get("BENCH_THREADS", cls.threads)),
            connections=int(os.environ.get("BENCH_CONNECTIONS", cls.connections)),
            duration=int(os.environ.get("BENCH_DURATION", cls.duration)),
            warmup=int(os.environ.get("BENCH_WARMUP", cls.warmup)),
        )

    def describe(self) -> str:
        return f"wrk -t{self.threads} -c{self.connections} -d{self.duration}s --latency"


def run_wrk(wrk: str, url: str, load: Load, headers: dict[str, str] | None = None) -> WrkResult:
    """A warm-up run (discarded), then the measured one."""
    header_args = [arg for name, value in (headers or {}).items() for arg in ("-H", f"{name}: {value}")]
    result: WrkResult | None = None
    for seconds in (load.warmup, load.duration):
        if seconds <= 0:
            continue
        argv = [wrk, f"-t{load.threads}", f"-c{load.connections}", f"-d{seconds}s", "--latency", *header_args, url]
        completed = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
        if completed.returncode != 0:
            raise BenchError(f"wrk failed ({completed.returncode}): {completed.stderr or completed.stdout}")
        result = parse_wrk(completed.stdout)  # the warm-up's errors count too
    if result is None:
        raise BenchError("BENCH_DURATION must be positive")
    return result
