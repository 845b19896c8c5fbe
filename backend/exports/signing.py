"""Manifests, their Ed25519 signatures, signed download links, and the offline verifier.

Nothing here touches the database: ``python -m backend export verify`` imports this module alone.

- A manifest is signed over its canonical JSON (keys sorted, no spaces, UTF-8) without the
  ``signature`` member.
- Private keys are stored encrypted with AES-GCM under a key derived (HKDF-SHA256) from the server's
  ``export_key_secret`` and the organization id, so a database dump alone does not sign anything.
- A download link is ``HMAC-SHA256(export_link_secret, "org:export:user:expires")``: bound to one export
  and one person, valid until ``expires`` (at most 15 minutes ahead).
- A mailed link (a scheduled export's mail) is ``HMAC-SHA256(export_link_secret, "mail:org:export:user:expires")``:
  a message of its own, so it is checked against its own, longer limit (``export_mail_link_seconds``) and
  an interactive link can never pass as one.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ALGORITHM = "Ed25519"


def canonical(manifest: dict[str, Any]) -> bytes:
    body = {key: value for key, value in manifest.items() if key != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def json_bytes(manifest: dict[str, Any]) -> bytes:
    """The manifest as written to disk (readable; verification re-canonicalizes it)."""
    return json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False).encode() + b"\n"


def _wrapping_key(secret: str, org_id: uuid.UUID) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"worktime export signing key " + org_id.bytes)
    return hkdf.derive(secret.encode())


@dataclass(frozen=True, slots=True)
class NewKey:
    key_id: str
    public_key: bytes
    private_key_encrypted: bytes


def new_key(secret: str, org_id: uuid.UUID) -> NewKey:
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    nonce = os.urandom(12)
    sealed = nonce + AESGCM(_wrapping_key(secret, org_id)).encrypt(nonce, raw, org_id.bytes)
    return NewKey(key_id=key_id_of(public), public_key=public, private_key_encrypted=sealed)


def key_id_of(public: bytes) -> str:
    return hashlib.sha256(public).hexdigest()[:16]


def unseal(secret: str, org_id: uuid.UUID, sealed: bytes) -> Ed25519PrivateKey:
    try:
        raw = AESGCM(_wrapping_key(secret, org_id)).decrypt(sealed[:12], sealed[12:], org_id.bytes)
    except InvalidTag:
        raise ValueError(
            "The signing key cannot be decrypted: is export_key_secret the one it was made with?"
        ) from None
    return Ed25519PrivateKey.from_private_bytes(raw)


def sign(manifest: dict[str, Any], private: Ed25519PrivateKey, key_id: str) -> dict[str, Any]:
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {
        **manifest,
        "signature": {
            "algorithm": ALGORITHM,
            "key_id": key_id,
            "public_key": base64.b64encode(public).decode(),
            "value": base64.b64encode(private.sign(canonical(manifest))).decode(),
        },
    }


def signature_valid(document: dict[str, Any], public: bytes) -> bool:
    """Whether ``document``'s ``signature`` is ``public``'s Ed25519 signature over its canonical JSON."""
    signature = document.get("signature") or {}
    try:
        value = base64.b64decode(signature.get("value", ""))
        Ed25519PublicKey.from_public_bytes(public).verify(value, canonical(document))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def public_pem(public: bytes) -> str:
    key = Ed25519PublicKey.from_public_bytes(public)
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


# --- signed links ----------------------------------------------------------------------------------


def link_signature(secret: str, org_id: uuid.UUID, export_id: uuid.UUID, user_id: uuid.UUID, expires: int) -> str:
    message = f"{org_id}:{export_id}:{user_id}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def link_valid(
    secret: str, org_id: uuid.UUID, export_id: uuid.UUID, user_id: uuid.UUID, expires: int, sig: str, now: float
) -> bool:
    expected = link_signature(secret, org_id, export_id, user_id, expires)
    return hmac.compare_digest(expected, sig) and now < expires <= now + 900 + 5


def mail_link_signature(secret: str, org_id: uuid.UUID, export_id: uuid.UUID, user_id: uuid.UUID, expires: int) -> str:
    message = f"mail:{org_id}:{export_id}:{user_id}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def mail_link_valid(
    secret: str,
    org_id: uuid.UUID,
    export_id: uuid.UUID,
    user_id: uuid.UUID,
    expires: int,
    sig: str,
    now: float,
    max_seconds: int,
) -> bool:
    """A mailed link: signed as one, unexpired, and expiring no later than ``max_seconds`` from now."""
    expected = mail_link_signature(secret, org_id, export_id, user_id, expires)
    return hmac.compare_digest(expected, sig) and now < expires <= now + max_seconds + 5


# --- offline verification --------------------------------------------------------------------------


@dataclass
class Verdict:
    ok: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems


def _load_public(given: str | None, manifest: dict[str, Any], verdict: Verdict) -> Ed25519PublicKey | None:
    embedded = (manifest.get("signature") or {}).get("public_key")
    try:
        if given is None:
            if not embedded:
                verdict.problems.append("the manifest carries no public key and none was given (--public-key)")
                return None
            verdict.ok.append(
                "public key: taken from the manifest itself (pass --public-key to check it against the "
                "organization's published key)"
            )
            return Ed25519PublicKey.from_public_bytes(base64.b64decode(embedded))
        text = Path(given).read_text() if Path(given).exists() else given
        if "BEGIN PUBLIC KEY" in text:
            key = serialization.load_pem_public_key(text.encode())
            if not isinstance(key, Ed25519PublicKey):
                verdict.problems.append("the given public key is not an Ed25519 key")
                return None
        else:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(text.strip()))
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        if embedded and base64.b64decode(embedded) != raw:
            verdict.problems.append("the manifest names a different public key than the one given")
        else:
            verdict.ok.append(f"public key: the one given (key id {key_id_of(raw)})")
        return key
    except (ValueError, OSError) as exc:
        verdict.problems.append(f"the public key cannot be read: {exc}")
        return None


def verify(file: Path, manifest_path: Path, public_key: str | None = None) -> Verdict:
    """Check a file against its manifest and the manifest's signature; say precisely what differs."""
    verdict = Verdict()
    try:
        manifest = json.loads(manifest_path.read_bytes())
    except (OSError, ValueError) as exc:
        verdict.problems.append(f"the manifest cannot be read as JSON: {exc}")
        return verdict
    data = file.read_bytes()
    described = manifest.get("file") or {}
    digest = hashlib.sha256(data).hexdigest()
    if digest == described.get("sha256"):
        verdict.ok.append(f"file sha256 matches ({digest})")
    else:
        verdict.problems.append(
            f"file sha256 differs: the manifest says {described.get('sha256')}, the file is {digest}"
        )
    if len(data) == described.get("size_bytes"):
        verdict.ok.append(f"file size matches ({len(data)} bytes)")
    else:
        verdict.problems.append(
            f"file size differs: the manifest says {described.get('size_bytes')} bytes, the file has {len(data)}"
        )
    if manifest.get("format") == "csv":
        try:
            rows = sum(1 for _ in csv.reader(io.StringIO(data.decode("utf-8")))) - 1
        except (UnicodeDecodeError, csv.Error) as exc:
            verdict.problems.append(f"the file is not readable CSV: {exc}")
        else:
            if rows == manifest.get("row_count"):
                verdict.ok.append(f"row count matches ({rows})")
            else:
                verdict.problems.append(
                    f"row count differs: the manifest says {manifest.get('row_count')}, the file has {rows}"
                )
    key = _load_public(public_key, manifest, verdict)
    signature = manifest.get("signature") or {}
    if key is not None:
        try:
            key.verify(base64.b64decode(signature.get("value", "")), canonical(manifest))
            verdict.ok.append("manifest signature is valid (Ed25519)")
        except (InvalidSignature, ValueError):
            verdict.problems.append(
                "manifest signature is NOT valid: the manifest was changed after signing, or signed by another key"
            )
    return verdict
