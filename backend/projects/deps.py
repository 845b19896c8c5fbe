from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Path
from sqlalchemy import select
from sqlmodel import col

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
    # One round trip for the project and the caller's role in it. RLS already hides other tenants'
    # projects; the org condition keeps this true without it.
    found = (
        await ctx.session.execute(
            select(Project, ProjectMembership)
            .outerjoin(
                ProjectMembership,
                (col(ProjectMembership.project_id) == col(Project.id))
                & (col(ProjectMembership.user_id) == ctx.user.id),
            )
            .where(col(Project.id) == project_id, col(Project.org_id) == ctx.org_id)
        )
    ).first()
    if found is None:
        raise NotFound("No such project.")
    project, project_membership = found
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
