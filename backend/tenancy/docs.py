"""Render the role x permission matrix from the Casbin policy: ``python -m backend.tenancy.docs``."""

from __future__ import annotations

from backend.tenancy import guard, roles


def render() -> str:
    subjects = roles.subjects()
    lines = [
        "# Authorization matrix",
        "",
        "Generated from `backend/tenancy/policy.csv` by `make docs`; a test fails when it is stale.",
        "Roles inherit downwards (owner ⊃ admin ⊃ manager ⊃ member; lead ⊃ contributor ⊃ viewer).",
        "An org admin acts as lead on every project and the auditor as viewer; managers and members",
        "reach a project only through their own project role. The auditor never changes anything",
        "(beyond answering their own invitation and leaving).",
        "",
        "A caller is allowed when any role they hold here allows it: their organization role, and",
        "inside a project also their project role (both read from the database on every request).",
        "Permissions marked ✎ write: they are refused (409) in an archived organization or project,",
        "whatever the role.",
        "",
        "Your own effective permissions, and why one is granted or refused, are one call away:",
        "`GET /api/v1/orgs/{org_id}/me/permissions` and",
        "`GET /api/v1/orgs/{org_id}/me/permissions/explain?permission=…&project_id=…`.",
        "",
        "| permission | scope | " + " | ".join(f"`{subject}`" for subject in subjects) + " |",
        "|---|---|" + "---|" * len(subjects),
    ]
    for permission in guard.policy.permissions():
        scope = "project" if guard.project_scoped(permission) else "organization"
        mark = " ✎" if guard.writes(permission) else ""
        cells = ["✅" if guard.policy.is_allowed(subject, permission) else "—" for subject in subjects]
        lines.append(f"| `{permission}`{mark} | {scope} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")  # noqa: T201
