"""The pages: server-rendered shells (Jinja2) whose data the browser fetches from the JSON API with
the session cookie. What a page shows is decided by ``/me/permissions``, in the browser, and enforced
by the API whatever the page shows."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from backend.core.auth import Principal, TokenVerifier
from backend.core.db import Database
from backend.core.errors import NotAuthenticated
from backend.core.validation import CanonicalUUID
from backend.core.websession import COOKIE, SessionStore, WebSession
from backend.reports import saved

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)

OrgPage = Literal[
    "timer",
    "timesheet",
    "absences",
    "team",
    "projects",
    "calendar",
    "reports",
    "clients",
    "notes",
    "decisions",
    "exports",
    "reminders",
    "members",
    "audit",
    "sso",
    "settings",
]
TITLES = {
    "home": "Organizations",
    "timer": "Timer",
    "timesheet": "My timesheet",
    "absences": "Absences",
    "team": "Team dashboard",
    "projects": "Projects",
    "project": "Project",
    "task": "Task",
    "calendar": "Calendar",
    "reports": "Reports",
    "clients": "Clients",
    "notes": "Notes",
    "decisions": "Decisions",
    "exports": "Exports",
    "reminders": "Reminders",
    "notifications": "Notifications",
    "members": "Members",
    "audit": "Audit trail",
    "sso": "Single sign-on",
    "settings": "Settings",
}


async def _signed_in(request: Request) -> tuple[WebSession, Principal] | None:
    store: SessionStore = request.app.state.web_sessions
    session = await store.current(request.cookies.get(COOKIE))
    if session is None:
        return None
    verifier: TokenVerifier = request.app.state.verifier
    try:
        return session, await verifier.verify(session.access_token)
    except NotAuthenticated:
        return None


def _to_login(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/auth/login?next={quote(target, safe='')}", 302)


async def _render(
    request: Request,
    page: str,
    org_id: uuid.UUID | None,
    project_id: uuid.UUID | None = None,
    task_id: uuid.UUID | None = None,
) -> Response:
    signed_in = await _signed_in(request)
    if signed_in is None:
        return _to_login(request)
    session, principal = signed_in
    response = templates.TemplateResponse(
        request,
        f"{page}.html",
        {
            "page": page,
            "title": TITLES[page],
            "org_id": str(org_id) if org_id else "",
            "project_id": str(project_id) if project_id else "",
            "task_id": str(task_id) if task_id else "",
            "csrf": session.csrf,
            "user_name": principal.name or principal.username or principal.email or "you",
            "user_id": str(principal.subject),
        },
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/")
async def home(request: Request) -> Response:
    return await _render(request, "home", None)


@router.get("/notifications")
async def notifications(request: Request) -> Response:
    """Your notifications from every organization (the header's bell links here)."""
    return await _render(request, "notifications", None)


@router.get("/orgs/{org_id}")
async def org_home(org_id: CanonicalUUID) -> Response:
    return RedirectResponse(f"/orgs/{org_id}/timer", 302)


@router.get("/orgs/{org_id}/{page}")
async def org_page(request: Request, org_id: CanonicalUUID, page: OrgPage) -> Response:
    return await _render(request, page, org_id)


@router.get("/orgs/{org_id}/projects/{project_id}")
async def project_page(request: Request, org_id: CanonicalUUID, project_id: CanonicalUUID) -> Response:
    return await _render(request, "project", org_id, project_id)


@router.get("/orgs/{org_id}/projects/{project_id}/tasks/{task_id}")
async def task_page(
    request: Request, org_id: CanonicalUUID, project_id: CanonicalUUID, task_id: CanonicalUUID
) -> Response:
    return await _render(request, "task", org_id, project_id, task_id)


@router.get("/shared/{token}")
async def shared_report_page(request: Request, token: Annotated[str, PathParam(max_length=100)]) -> Response:
    """A saved report's share link, for people without an account: its live figures as a plain page (no
    script), the same view ``/api/v1/shared-reports/{token}`` answers, counted and audited the same way."""
    db: Database = request.app.state.db
    async with db.transaction() as session:
        report = await saved.shared_view(session, token)
    days = {}
    if report is not None:  # the period's first and last day in the report's zone (its end is exclusive)
        zone = ZoneInfo(report.time_zone)
        days = {
            "first": report.period_start.astimezone(zone).date(),
            "last": (report.period_end - timedelta(microseconds=1)).astimezone(zone).date(),
        }
    response = templates.TemplateResponse(
        request,
        "shared_report.html",
        {"report": report, "title": report.name if report else "Report not available", "hours": _hours, **days},
        status_code=200 if report else 404,
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _hours(seconds: int) -> str:
    return f"{seconds / 3600:.2f}"
