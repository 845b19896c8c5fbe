"""Edge cases of token verification, against a JWKS we control (the real-Keycloak paths are tested
in tests/identity and tests/core/test_key_rotation.py)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from backend.core.auth import JwksCache, TokenVerifier
from backend.core.errors import DependencyUnavailable, NotAuthenticated
from backend.settings import Settings

ISSUER_BASE = "http://keycloak.test"
SETTINGS = Settings(
    keycloak_url=ISSUER_BASE,
    keycloak_realm="worktime",
    jwt_leeway_seconds=5,
    keycloak_allowed_clients=["worktime-web", "worktime-cli"],
)
ISSUER = SETTINGS.keycloak_issuer


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


KEY = new_key()
KID = "key-1"


def jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**public, "kid": kid, "use": "sig", "alg": "RS256"}


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": ["worktime-api", "account"],
        "azp": "worktime-cli",
        "sub": str(uuid.uuid4()),
        "typ": "Bearer",
        "iat": now,
        "exp": now + 300,
        "preferred_username": "pat",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, Any], key: rsa.RSAPrivateKey = KEY, kid: str = KID, alg: str = "RS256") -> str:
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


class FakeJwks:
    def __init__(self, keys: list[dict[str, Any]]) -> None:
        self.keys = keys
        self.calls = 0
        self.down = False

    def handler(self, _: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.down:
            raise httpx.ConnectError("keycloak is down")
        return httpx.Response(200, json={"keys": self.keys})


def verifier_with(fake: FakeJwks, *, cooldown: float = 10.0, max_age: float = 300.0) -> tuple[TokenVerifier, JwksCache]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(fake.handler))
    cache = JwksCache(
        SETTINGS.keycloak_jwks_url, client, max_age_seconds=max_age, unknown_kid_cooldown_seconds=cooldown
    )
    return TokenVerifier(SETTINGS, cache), cache


async def test_a_valid_token_yields_a_principal() -> None:
    verifier, _ = verifier_with(FakeJwks([jwk(KEY, KID)]))
    payload = claims()
    principal = await verifier.verify(sign(payload))
    assert str(principal.subject) == payload["sub"]
    assert principal.client_id == "worktime-cli"


def _unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{b64(header)}.{b64(payload)}."


PUBLIC_PEM = KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

FORGERIES: dict[str, Callable[[], str]] = {
    "alg none": lambda: _unsigned({"alg": "none", "kid": KID, "typ": "JWT"}, claims()),
    "RS256 signed by a stranger's key": lambda: sign(claims(), key=new_key()),
    "wrong issuer": lambda: sign(claims(iss="http://evil.test/realms/worktime")),
    "wrong audience": lambda: sign(claims(aud="account")),
    "no audience": lambda: sign(claims(aud=None)),
    "client not allowed": lambda: sign(claims(azp="some-other-client")),
    "expired": lambda: sign(claims(exp=int(time.time()) - 60)),
    "not yet valid": lambda: sign(claims(nbf=int(time.time()) + 120)),
    "issued in the future": lambda: sign(claims(iat=int(time.time()) + 120)),
    "ID token": lambda: sign(claims(typ="ID")),
    "refresh token": lambda: sign(claims(typ="Refresh")),
    "no subject": lambda: sign(claims(sub=None)),
    "no expiry": lambda: sign(claims(exp=None)),
}


@pytest.mark.parametrize("forgery", list(FORGERIES), ids=list(FORGERIES))
async def test_forgeries_are_rejected(forgery: str) -> None:
    verifier, _ = verifier_with(FakeJwks([jwk(KEY, KID)]))
    with pytest.raises(NotAuthenticated) as caught:
        await verifier.verify(FORGERIES[forgery]())
    assert caught.value.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


async def test_hs256_signed_with_the_public_key_is_rejected() -> None:
    verifier, _ = verifier_with(FakeJwks([jwk(KEY, KID)]))
    # Build the token by hand: PyJWT itself refuses to use a PEM key as an HMAC secret.
    import hashlib
    import hmac

    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": KID}).encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=")
    signature = hmac.new(PUBLIC_PEM, header + b"." + body, hashlib.sha256).digest()
    token = b".".join([header, body, base64.urlsafe_b64encode(signature).rstrip(b"=")]).decode()
    with pytest.raises(NotAuthenticated):
        await verifier.verify(token)


async def test_small_clock_skew_is_tolerated_within_the_leeway() -> None:
    verifier, _ = verifier_with(FakeJwks([jwk(KEY, KID)]))
    await verifier.verify(sign(claims(exp=int(time.time()) - 2)))


async def test_a_flood_of_unknown_kids_fetches_the_jwks_at_most_once_per_cooldown() -> None:
    fake = FakeJwks([jwk(KEY, KID)])
    verifier, cache = verifier_with(fake, cooldown=60)
    await verifier.verify(sign(claims()))
    assert fake.calls == 1
    forged = [sign(claims(), key=KEY, kid=f"forged-{n}") for n in range(200)]
    results = await asyncio.gather(*(verifier.verify(t) for t in forged), return_exceptions=True)
    assert all(isinstance(r, NotAuthenticated) for r in results)
    assert fake.calls <= 2, f"{fake.calls} JWKS fetches for 200 forged kids"
    assert cache.fetch_count == fake.calls


async def test_a_new_key_is_picked_up_after_the_cooldown() -> None:
    fake = FakeJwks([jwk(KEY, KID)])
    verifier, _ = verifier_with(fake, cooldown=0.05)
    await verifier.verify(sign(claims()))
    rotated = new_key()
    fake.keys.append(jwk(rotated, "key-2"))
    await asyncio.sleep(0.06)
    await verifier.verify(sign(claims(), key=rotated, kid="key-2"))
    await verifier.verify(sign(claims()))  # the old key keeps working


async def test_cached_keys_keep_working_while_keycloak_is_down() -> None:
    fake = FakeJwks([jwk(KEY, KID)])
    verifier, _ = verifier_with(fake, cooldown=0.0, max_age=0.0)  # every call wants a refresh
    await verifier.verify(sign(claims()))
    fake.down = True
    principal = await verifier.verify(sign(claims()))
    assert principal.client_id == "worktime-cli"


async def test_no_keys_and_keycloak_down_is_a_503_not_a_401() -> None:
    fake = FakeJwks([])
    fake.down = True
    verifier, _ = verifier_with(fake)
    with pytest.raises(DependencyUnavailable):
        await verifier.verify(sign(claims()))
