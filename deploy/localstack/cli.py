"""The command line: `up`, `status`, `down` and `install`, with the same flags as ever."""

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time

from .config import AlreadyRunning, StackError, StopRequested, log
from .install import OPTIONAL_PACKAGES, ensure_packages
from .processes import PidInfo, send
from .stack import LocalStack


def _raise_stop(signum: int, _frame: object) -> None:
    raise StopRequested(signal.Signals(signum).name)


def cmd_up(args: argparse.Namespace) -> int:
    # Explicit: a shell starting us in the background (`cmd &`) sets SIGINT to "ignore".
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGHUP, _raise_stop)
    stack = LocalStack(args.name, fixed_ports=args.fixed_ports, ephemeral=args.ephemeral, via_pgbouncer=args.pgbouncer)
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


def _parser() -> argparse.ArgumentParser:
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
        "--pgbouncer",
        action="store_true",
        help="the app's runtime connections go through PgBouncer (transaction pooling; always started)",
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = {"up": cmd_up, "status": cmd_status, "down": cmd_down, "install": cmd_install}[args.command]
    try:
        return handler(args)
    except StackError as exc:
        log(f"ERROR: {exc}")
        return 1
    except subprocess.CalledProcessError as exc:
        log(f"ERROR: command failed (exit {exc.returncode}): {shlex.join(map(str, exc.cmd))}")
        return 1
