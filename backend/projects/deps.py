from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Path

from backend.core.deps import CurrentOrg, OrgContext
from backend.core.errors import NotFound
from backend.projects.models import Project, ProjectMembership


@dataclass
class ProjectContext(OrgContext):
    project: Project = field(kw_only=True)
    project_membership: ProjectMembership | None = field(kw_only=True)

    def role_subjects(self) -> list[str]:
        subjects = super().role_subjects()
        if self.project_membership is not None:
            subjects.append(f"project:{self.project_membership.role}")
        return subjects


async def project_context(
    ctx: CurrentOrg, project_id: Annotated[uuid.UUID, Path(description="Project id")]
) -> ProjectContext:
    project = await ctx.session.get(Project, project_id)
    # RLS already hides other tenants' projects; the org check keeps this true without it.
    if project is None or project.org_id != ctx.org_id:
        raise NotFound("No such project.")
    project_membership = await ctx.session.get(ProjectMembership, (project_id, ctx.user.id))
    return ProjectContext(
        principal=ctx.principal,
        user=ctx.user,
        session=ctx.session,
        decisions=ctx.decisions,
        org=ctx.org,
        membership=ctx.membership,
        project=project,
        project_membership=project_membership,
    )


CurrentProject = Annotated[ProjectContext, Depends(project_context)]
