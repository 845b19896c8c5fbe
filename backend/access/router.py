from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from backend.access import schemas, service
from backend.tenancy.context import CurrentOrg

router = APIRouter(prefix="/orgs/{org_id}/me/permissions", tags=["permissions"])


@router.get("", summary="Your effective permissions here, organization-wide and per project")
async def read_my_permissions(ctx: CurrentOrg) -> schemas.MyPermissions:
    return await service.my_permissions(ctx)


@router.get("/explain", summary="Which role and policy line grants a permission, or why nothing does")
async def explain_permission(
    ctx: CurrentOrg,
    permission: Annotated[str, Query(max_length=100, description="`resource:action`, e.g. `project:update`")],
    project_id: Annotated[uuid.UUID | None, Query(description="Decide inside this project")] = None,
) -> schemas.PermissionExplanation:
    return await service.explain(ctx, permission, project_id)
