"""Render docs/configuration.md from backend/settings.py: ``python -m backend.settings_docs``.

``--check PATH`` exits 1 when PATH differs from what it would write (``make lint`` runs it), so the
documentation cannot drift from the settings: a field's description is its documentation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from backend.settings import SECTIONS

INTRO = """\
# Configuration

<!-- Generated from backend/settings.py by `make docs` (python -m backend.settings_docs); `make lint` fails
     when it is stale. Edit the fields' descriptions there, not this file. -->

`backend/settings.py` reads all settings once per process from environment variables prefixed with
`WORKTIME_`, and from a `.env` file in the current working directory. Environment variables win over
`.env`, and unknown variables are ignored. The defaults match the ports of `make run`'s stack. Lists are
comma-separated.
"""

# Read by the stack, the tests or Keycloak, never by the application: (variables, used by).
OUTSIDE = (
    (
        "`WORKTIME_DATABASE_SUPERUSER_URL`",
        "tests (`tests/core/test_migrations.py` creates a scratch database with it) and `bench` (bulk-loads its"
        " scale data; skipped when unset)",
    ),
    ("`WORKTIME_API_URL`, `WORKTIME_KEYCLOAK_MANAGEMENT_URL`", "informational (written by `deploy/localstack.py`)"),
    ("`KEYCLOAK_ADMIN_USER`, `KEYCLOAK_ADMIN_PASSWORD`, `DEMO_PASSWORD`, `DEMO_USER_n`", "tests and the banner"),
    (
        "`WORKTIME_CACHE_DIR`",
        "`deploy/localstack.py`: where downloads and the built Keycloak go (default `~/.cache/worktime`)",
    ),
    (
        "`WORKTIME_BACKEND_CLIENT_SECRET`",
        "Keycloak, when it imports the realm (`${WORKTIME_BACKEND_CLIENT_SECRET}` placeholder)",
    ),
    (
        "`WORKTIME_SMTP_HOST`, `WORKTIME_SMTP_PORT`",
        "Keycloak, when it imports the dev realm: `realm.dev.json`'s SMTP server, default `127.0.0.1:1025`. The"
        " native stack passes the caller's environment to Keycloak. `make run` starts a mail catcher on"
        " 127.0.0.1:1025 (log: `.stack/dev/logs/serve-3.log`); other stacks need a real one for invitations.",
    ),
)

OUTSIDE_INTRO = """\
## Variables read outside `settings.py`

The application itself does not read these variables. The native stack's `stack.env` contains the first three
rows; the rest are read by `deploy/localstack.py` or by Keycloak.

| variable | used by |
|---|---|
"""

DOTENV = """\
## `.env`

Copy [`.env.example`](../.env.example) to `.env` and uncomment what you need. The file is git-ignored.
Every process started from the repository root reads `.env`, including `make test` runs. Variables
exported by `make run`, `make test` and `make bench` take precedence over `.env`, but a
`WORKTIME_KEYCLOAK_PUBLIC_URL` or `WORKTIME_KEYCLOAK_AUDIENCE` in `.env` also applies to those runs and can
make every token fail verification. Keep `.env` empty, or comment such values out, when using the
Makefile targets.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default(field: FieldInfo) -> str:
    extra = field.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("shown_default"), str):
        return str(extra["shown_default"])
    value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
    if value is PydanticUndefined or value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        value = ",".join(str(item) for item in value)
    return f"`{value}`" if value != "" else "empty"


def render() -> str:
    parts = [INTRO]
    for section in SECTIONS:
        title, _, intro = (section.__doc__ or section.__name__).partition("\n")
        lines = [f"## {title.strip()}", ""]
        if intro.strip():
            lines += [" ".join(intro.split()), ""]
        lines += ["| variable | default | meaning |", "|---|---|---|"]
        for name, field in section.model_fields.items():
            variable = f"WORKTIME_{name.upper()}"
            if not field.description:
                raise ValueError(f"{section.__name__}.{name} has no description: it is {variable}'s documentation")
            lines.append(f"| `{variable}` | {_cell(_default(field))} | {_cell(field.description)} |")
        parts.append("\n".join(lines) + "\n")
    parts.append(OUTSIDE_INTRO + "".join(f"| {names} | {used_by} |\n" for names, used_by in OUTSIDE))
    parts.append(DOTENV)
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", type=Path, metavar="PATH", help="exit 1 when PATH is not what would be written")
    args = parser.parse_args(argv)
    text = render()
    if args.check is None:
        sys.stdout.write(text)
        return 0
    if args.check.read_text(encoding="utf-8") != text:
        sys.stderr.write(f"{args.check} is stale: run `make docs`\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
