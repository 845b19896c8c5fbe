"""The web app: sign-in through Keycloak (backend-for-frontend), the pages, and their static files.

A face-level package: it serves HTML and assets and runs the OIDC code exchange; the pages' data comes
from the JSON API, called by the browser with the session cookie (see backend/core/websession.py).
"""
