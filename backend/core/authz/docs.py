"""Render the role x permission matrix from the Casbin policy: ``python -m backend.core.authz.docs``."""

from __future__ import annotations

from backend.core import authz


def render() -> str:
    roles = authz.roles()
    lines = [
        "# Authorization matrix",
        "",
        "Generated from `backend/core/authz/policy.csv` by `make docs`; a test fails when it is stale.",
        "Roles inherit downwards (owner ⊃ admin ⊃ manager ⊃ member); the auditor only reads.",
        "",
        "| permission | " + " | ".join(roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for permission in authz.permissions():
        cells = ["✅" if authz.is_allowed(role, permission) else "—" for role in roles]
        lines.append(f"| `{permission}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")  # noqa: T201
