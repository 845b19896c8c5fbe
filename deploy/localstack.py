#!/usr/bin/env python3
"""Native local stack for worktime (PostgreSQL, Redis, Keycloak as plain processes): the script entry point.

    python3 deploy/localstack.py up --name dev [--fixed-ports] [--ephemeral] \\
          [--setup "CMD"]... [--serve "CMD"]... [--exec "CMD"]
    python3 deploy/localstack.py status --name dev     # KEY=value lines of the running stack
    python3 deploy/localstack.py down --name dev       # stop a stack started elsewhere
    python3 deploy/localstack.py install wrk           # a tool some commands need (`make bench`: wrk)

The code is the stdlib-only package next to this file, `deploy/localstack/` (see its __init__).
"""

import sys
from pathlib import Path

if __name__ == "__main__":
    # Run as a script, sys.path[0] is deploy/, where the package is; a package wins over this same-named file.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from localstack.cli import main

    sys.exit(main())
