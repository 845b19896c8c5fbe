from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

from backend.tenancy.roles import OrgRole, ProjectRole


class ProjectPermissions(BaseModel):
    project_id: uuid.UUID
    name: str
    role: ProjectRole
    archived: bool
    permissions: list[str]


class MyPermissions(BaseModel):
    org_id: uuid.UUID
    role: OrgRole
    read_only: str | None = Field(description="Why nothing can be changed here (archived), or null")
    second_factor_required: bool = Field(
        default=False,
        description="The organization requires owners and admins to sign in with a second factor and this "
        "sign-in used none: the permissions listed are only a member's until you sign in with one",
    )
    permissions: list[str] = Field(description="Organization-wide permissions in effect now")
    project_defaults: list[str] = Field(
        description="Permissions on every project of the organization, through your organization role alone"
    )
    projects: list[ProjectPermissions] = Field(
        description="Projects where you hold a project role, with the permissions in effect on each"
    )
    role_ranks: dict[OrgRole, int] = Field(
        description="Each organization role's rank: you may grant, change or remove only roles ranked at or below yours"
    )


class GrantRead(BaseModel):
    role: str = Field(description="The role you hold that grants it")
    via: list[str] = Field(description="The inheritance chain from your role to the role in the policy line")
    policy_line: str


class PermissionExplanation(BaseModel):
    permission: str
    project_id: uuid.UUID | None
    allowed: bool
    roles: list[str] = Field(description="The roles you hold here")
    granted_by: GrantRead | None
    granted_to: list[str] = Field(description="Roles whose policy lines grant this permission")
    read_only: str | None
    second_factor_required: bool = Field(
        default=False, description="Your role allows it, but this organization requires a second factor you did not use"
    )
    reason: str
