from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from backend.core.validation import SafeText
from backend.settings import get_settings
from backend.tenancy.roles import MembershipStatus, OrgRole


def valid_email(value: str) -> str:
    # Outside production the RFC 6761 ".test" domain is accepted, for demo and test accounts.
    try:
        checked = validate_email(value, check_deliverability=False, test_environment=get_settings().env != "production")
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    return checked.normalized


Email = Annotated[SafeText, StringConstraints(strip_whitespace=True, max_length=320), AfterValidator(valid_email)]


class MemberRead(BaseModel):
    user_id: uuid.UUID
    email: str | None
    display_name: str | None
    role: OrgRole
    status: MembershipStatus
    created_at: datetime


class Invitation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Email
    role: OrgRole = OrgRole.MEMBER


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: OrgRole


class InvitationRead(BaseModel):
    org_id: uuid.UUID
    org_slug: str
    org_name: str
    role: OrgRole
    invited_by: uuid.UUID | None
    invited_at: datetime


class PendingInvitationRead(BaseModel):
    """A pending invitation as the organization's admins see it."""

    user_id: uuid.UUID
    email: str | None
    role: OrgRole
    invited_by: uuid.UUID | None
    invited_at: datetime
    last_sent_at: datetime | None
