"""Native local stack for worktime: PostgreSQL, Redis and Keycloak as plain processes on 127.0.0.1.

No Docker needed.  Missing system packages are apt-installed when running as root.  Stdlib
only (Python 3.11), so it works before the project's virtualenv exists.

    python deploy/localstack.py up --name dev [--fixed-ports] [--ephemeral] \\
          [--setup "CMD"]... [--serve "CMD"]... [--exec "CMD"]
    python deploy/localstack.py status --name dev     # KEY=value lines of the running stack
    python deploy/localstack.py down --name dev       # stop a stack started elsewhere
    python deploy/localstack.py install wrk           # a tool some commands need (`make bench`: wrk)

Modules: config (paths, versions, credentials), processes (pid files, signals), install (system
packages, the Keycloak dist), supervisor (children restarted with back-off), services (Postgres, Redis,
Keycloak), stack (LocalStack), cli (the commands). `deploy/localstack.py` is the script entry point.

State lives in <repo>/.stack/<name>/ (data, logs, pid files, stack.env); downloads and the
built Keycloak distribution in ${WORKTIME_CACHE_DIR:-~/.cache/worktime}.

Tests can drive it in-process::

    stack = LocalStack("pytest", ephemeral=True)
    env = stack.start()      # dict of the stack.env variables
    ...
    stack.stop()
"""

from .cli import main
from .config import AlreadyRunning, StackError
from .processes import PidInfo, terminate
from .stack import LocalStack

__all__ = ["AlreadyRunning", "LocalStack", "PidInfo", "StackError", "main", "terminate"]
