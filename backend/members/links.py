"""The invitation link: ``/join/<token>``, a platform-signed credential for one invitation email.

``token = base64url(payload) "." base64url(HMAC-SHA256(secret, payload))`` with the payload
``{"o": org id, "u": user id, "n": nonce, "e": expiry (unix seconds)}``. The signature makes it
unforgeable and the expiry bounds its life (``invitation_link_days``), but neither makes it revocable;
the nonce does: it must equal ``memberships.invite_nonce`` of a still-pending membership. A re-sent
invitation gets a new nonce (the older link stops working), and accepting, declining or revoking ends
the pending membership (and with it every link). The token grants nothing in the API: it only shows
the invitation page and lets the invitee ask Keycloak to email *their own address* a set-your-password
link. Signature checks are constant-time; the payload is not secret (it holds ids only).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass

MAX_TOKEN_LENGTH = 400


@dataclass(frozen=True)
class LinkClaims:
    org_id: uuid.UUID
    user_id: uuid.UUID
    nonce: uuid.UUID
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: str) -> str:
    # A purpose label in the key keeps these MACs distinct from any other use of the same secret.
    return _b64(hmac.new(f"worktime-invitation:{secret}".encode(), payload.encode(), hashlib.sha256).digest())


def sign(secret: str, claims: LinkClaims) -> str:
    payload = _b64(
        json.dumps(
            {"o": str(claims.org_id), "u": str(claims.user_id), "n": str(claims.nonce), "e": claims.expires_at},
            separators=(",", ":"),
        ).encode()
    )
    return f"{payload}.{_mac(secret, payload)}"


def new_claims(org_id: uuid.UUID, user_id: uuid.UUID, nonce: uuid.UUID, *, days: int) -> LinkClaims:
    return LinkClaims(org_id, user_id, nonce, int(time.time()) + days * 86_400)


def verify(secret: str, token: str, *, now: float | None = None) -> LinkClaims | None:
    """The claims of an authentic, unexpired token; ``None`` for anything else (never raises)."""
    if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        return None
    payload, mac = token.split(".")
    if not hmac.compare_digest(mac.encode(), _mac(secret, payload).encode()):
        return None
    try:
        data = json.loads(_unb64(payload))
        claims = LinkClaims(uuid.UUID(data["o"]), uuid.UUID(data["u"]), uuid.UUID(data["n"]), int(data["e"]))
    except (ValueError, KeyError, TypeError):
        return None
    if claims.expires_at <= (time.time() if now is None else now):
        return None
    return claims
