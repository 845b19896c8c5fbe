"""Casbin-backed role authorization, over policy files the tenancy layer supplies.

Permissions are ``resource:action`` strings and subjects are role names (``org:admin``); which roles a
caller holds is decided elsewhere (the tenancy layer reads them from the request's own transaction).
This package only answers "does any of these roles grant that permission, and through which line?".
"""

from backend.core.authz.enforcer import Authorizer, Explanation, Grant
from backend.core.authz.reload import RELOAD_CHANNEL, listen_for_reload, publish_reload, watch_for_reload

__all__ = [
    "RELOAD_CHANNEL",
    "Authorizer",
    "Explanation",
    "Grant",
    "listen_for_reload",
    "publish_reload",
    "watch_for_reload",
]
