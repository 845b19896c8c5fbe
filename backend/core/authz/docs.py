"""Render the role x permission matrix from the Casbin policy: ``python -m backend.core.authz.docs``."""

from __future__ import annotations

from backend.core import authz


def render() -> str:
    roles = authz.roles()
    lines = [
        "# Authorization matrix",
        "",
        "Generated from `backend/core/authz/policy.csv` by `make docs`; a test fails when it is stale.",
        "Roles inherit downwards (owner ⊃ admin ⊃ manager ⊃ member; lead ⊃ contributor ⊃ viewer).",
        "An org admin acts as lead on every project and the auditor as viewer; managers and members",
        "reach a project only through their own project role. The auditor never changes anything.",
        "",
        "A caller is allowed when any role they hold here allows it: their organization role, and",
        "inside a project also their project role (both read from the database on every request).",
        "",
        "| permission | " + " | ".join(f"`{role}`" for role in roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for permission in authz.permissions():
        cells = ["✅" if authz.is_allowed(role, permission) else "—" for role in roles]
        lines.append(f"| `{permission}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")  # noqa: T201
