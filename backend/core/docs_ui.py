"""The interactive API docs (Swagger UI), served entirely from the platform: no CDN, works offline.

Swagger UI's files are vendored under ``backend/core/static/swagger-ui`` at a pinned version (see the
README there) and served from ``/api/docs/static``. The page itself, the OAuth2 redirect page (PKCE login
through Keycloak) and the assets all come from this origin, so the docs page's CSP names ``'self'`` only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static" / "swagger-ui"
#: The vendored swagger-ui-dist release (npm); keep in step with static/swagger-ui/README.md.
SWAGGER_UI_VERSION = "5.35.0"


def install_docs(
    app: FastAPI,
    *,
    docs_url: str,
    openapi_url: str,
    oauth2_redirect_url: str,
    init_oauth: dict[str, Any] | None = None,
) -> None:
    """Serve Swagger UI at ``docs_url`` from vendored assets under ``{docs_url}/static``."""
    static_url = f"{docs_url}/static"

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{static_url}/swagger-ui-bundle.js?v={SWAGGER_UI_VERSION}",
            swagger_css_url=f"{root}{static_url}/swagger-ui.css?v={SWAGGER_UI_VERSION}",
            swagger_favicon_url=f"{root}{static_url}/favicon-32x32.png",
            oauth2_redirect_url=root + oauth2_redirect_url,
            init_oauth=init_oauth,
            swagger_ui_parameters={"persistAuthorization": True, "displayRequestDuration": True},
        )

    async def oauth2_redirect(_: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    app.add_route(docs_url, swagger_ui, include_in_schema=False)
    app.add_route(oauth2_redirect_url, oauth2_redirect, include_in_schema=False)
    app.mount(static_url, StaticFiles(directory=STATIC_DIR), name="swagger-ui-static")
