"""Residents' personal data: encrypted at rest with AES-256-GCM, identified on chain only by a keyed hash.

- `seal(key, address, pii)` -> 12-byte nonce || ciphertext+tag; the resident's address is the associated data,
  so a row copied onto another resident does not decrypt.
- `identity_hash(key, identity_number)` -> HMAC-SHA256 over the normalised identity number: without the key
  nobody can test a guessed number against the chain.
Nothing here logs or raises with the personal data in the message.
"""
from __future__ import annotations

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
