"""Residents' personal data: encrypted at rest with AES-256-GCM, identified on chain only by a keyed hash.

- `seal(key, address, pii)` -> 12-byte nonce || ciphertext+tag; the resident's address is the associated data,
  so a row copied onto another resident does not decrypt.
- `identity_hash(key, identity_number)` -> HMAC-SHA256 over the normalised identity number: without the key
  nobody can test a guessed number against the chain.
- `fingerprint(key, data)` -> HMAC-SHA256 of other personal data (an onboarding request's idempotency
  fingerprint): never a plain hash, which anyone could recompute from guessed data.
- `session_token(key, subject, expires)` / `session_subject(key, token, now)`: a resident's short-lived bearer
  token (HMAC-SHA256, key derived from the PII key), stateless.
Nothing here logs or raises with the personal data in the message.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import unicodedata

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def seal(key: bytes, address: str, pii: dict) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, json.dumps(pii, sort_keys=True).encode(), address.lower().encode())


def unseal(key: bytes, address: str, blob: bytes) -> dict:
    return json.loads(AESGCM(key).decrypt(blob[:12], blob[12:], address.lower().encode()))


def seal_bytes(key: bytes, label: str, secret: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, secret, label.encode())


def unseal_bytes(key: bytes, label: str, blob: bytes) -> bytes:
    return AESGCM(key).decrypt(blob[:12], blob[12:], label.encode())


def normalise_identity(identity_number: str) -> str:
    text = unicodedata.normalize("NFKC", identity_number)
    return "".join(ch for ch in text if ch.isalnum()).upper()


def identity_hash(key: bytes, identity_number: str) -> bytes:
    return hmac.new(key, normalise_identity(identity_number).encode(), hashlib.sha256).digest()


def fingerprint(key: bytes, data: bytes) -> str:
    return hmac.new(key, b"fingerprint\x00" + data, hashlib.sha256).hexdigest()


TOKEN_PREFIX = "rtk_"


def _token_key(key: bytes) -> bytes:
    return hmac.new(key, b"citypoints resident session v1", hashlib.sha256).digest()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def session_token(key: bytes, subject: str, expires: int) -> str:
    """`rtk_<subject:expires>.<mac>`: bearer of `subject` until `expires` (unix seconds)."""
    body = f"{subject}:{expires}".encode()
    mac = hmac.new(_token_key(key), body, hashlib.sha256).digest()
    return TOKEN_PREFIX + _b64url(body) + "." + _b64url(mac)


def session_subject(key: bytes, token: str, now: float) -> str | None:
    """The subject of a valid, unexpired token; None otherwise."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    try:
        body_text, mac_text = token[len(TOKEN_PREFIX):].split(".")
        body = base64.urlsafe_b64decode(body_text + "=" * (-len(body_text) % 4))
        mac = base64.urlsafe_b64decode(mac_text + "=" * (-len(mac_text) % 4))
        subject, expires = body.decode().rsplit(":", 1)
        expires_at = int(expires)
    except (ValueError, UnicodeDecodeError):
        return None
    if not hmac.compare_digest(mac, hmac.new(_token_key(key), body, hashlib.sha256).digest()):
        return None
    return subject if now < expires_at else None
