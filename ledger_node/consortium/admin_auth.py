"""The admin RPC's JWT key pair and tokens (Besu "JWT public key authentication").

Each node serves two JSON-RPC endpoints (besu_config.py): the public HTTP RPC (ETH, NET, WEB3 only, no
authentication) and the admin WebSocket RPC on 127.0.0.1 (ADMIN, DEBUG, PERM, QBFT, TXPOOL, MINER) with
`rpc-ws-authentication-enabled`. Besu checks each admin connection's `Authorization: Bearer <JWT>` against
the public key in `rpc-ws-authentication-jwt-public-key-file`, signed with `rpc-ws-authentication-jwt-algorithm`.

Files in each node folder, written by `init` and never overwritten (like the node key):
- `admin-jwt.key`  — ECDSA P-256 (secp256r1) private key, PKCS#8 PEM, mode 0600: whoever holds it can
  administer the node, so it stays with the node's operator;
- `admin-jwt.pub`  — its public key, SubjectPublicKeyInfo PEM (what Besu reads).

`admin_token` makes an ES256 JWT with the payload Besu documents: `permissions` (["*:*"]: every method the
admin port serves) and `exp` (seconds since the epoch; short-lived, 5 minutes by default).
"""
from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from . import errors as E
from .errors import ConsortiumError

PRIVATE_FILE = "admin-jwt.key"
PUBLIC_FILE = "admin-jwt.pub"
ALGORITHM = "ES256"
DEFAULT_TTL_SECONDS = 300


def ensure_admin_keypair(node_dir: Path) -> bool:
    """Create the node's admin JWT key pair if absent (True if created); re-derive a missing public file and
    fix the private file's mode otherwise. Never replaces an existing private key."""
    node_dir = Path(node_dir)
    private_path, public_path = node_dir / PRIVATE_FILE, node_dir / PUBLIC_FILE
    created = False
    if private_path.exists():
        key = _load_private(private_path)
        os.chmod(private_path, 0o600)
    else:
        node_dir.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        created = True
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    if not public_path.exists() or public_path.read_bytes() != public_pem:
        public_path.write_bytes(public_pem)
    return created


def admin_token(node_dir: Path, *, ttl_seconds: int = DEFAULT_TTL_SECONDS, now: int | None = None) -> str:
    """A JWT for the node's admin RPC, valid `ttl_seconds`."""
    if not 1 <= ttl_seconds <= 86400:
        raise ConsortiumError(E.FIELD_INVALID, f"token lifetime must be 1-86400 seconds, not {ttl_seconds}")
    key = _load_private(Path(node_dir) / PRIVATE_FILE)
    issued = int(time.time()) if now is None else now
    header = _b64(json.dumps({"alg": ALGORITHM, "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps({"permissions": ["*:*"], "iat": issued, "exp": issued + ttl_seconds},
                              separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode()
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return f"{header}.{payload}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"  # JWS: raw r || s


def _load_private(path: Path) -> ec.EllipticCurvePrivateKey:
    if not path.is_file():
        raise ConsortiumError(E.NOT_INITIALISED, f"{path} does not exist: run `citypoints consortium init` first")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError as exc:
        raise ConsortiumError(E.KEY_INVALID, f"{path} is not a PEM private key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ConsortiumError(E.KEY_INVALID, f"{path} must hold a P-256 (secp256r1) key for {ALGORITHM}")
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
