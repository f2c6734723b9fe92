"""Node keys: secp256k1 private key, enode public key, validator address.

Files in each node folder, in Besu's own formats (as `besu public-key export` writes them):
- `key`      — the private key, `0x` + 64 hex, mode 0600 (Besu `--node-private-key-file`);
- `key.pub`  — the public key, `0x` + 128 hex (64 bytes, no 04 prefix), mode 0644;
- `address`  — the validator / node address, EIP-55 checksummed, mode 0644.
An existing key is never overwritten by `init`: rotating a key is a deliberate runbook step.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from eth_keys import keys as eth_keys
from eth_keys.exceptions import ValidationError

from . import errors as E
from .errors import ConsortiumError

KEY_FILE = "key"
PUB_FILE = "key.pub"
ADDRESS_FILE = "address"
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@dataclass(frozen=True)
class NodeKey:
    private_key: bytes  # 32 bytes
    public_key: bytes = field(init=False, repr=False)  # 64 bytes, X || Y, no 0x04 prefix: the enode id
    address: str = field(init=False)  # EIP-55

    def __post_init__(self) -> None:
        public = eth_keys.PrivateKey(self.private_key).public_key  # validates the scalar range
        object.__setattr__(self, "public_key", public.to_bytes())
        object.__setattr__(self, "address", public.to_checksum_address())

    @property
    def enode_id(self) -> str:
        return self.public_key.hex()


def generate_node_key() -> NodeKey:
    while True:
        raw = secrets.token_bytes(32)
        if 0 < int.from_bytes(raw, "big") < _SECP256K1_N:
            return NodeKey(raw)


def parse_private_key(text: str, where: str = "key") -> NodeKey:
    body = text.strip()
    if body.startswith(("0x", "0X")):
        body = body[2:]
    try:
        raw = bytes.fromhex(body)
        if len(raw) != 32:
            raise ValueError
        return NodeKey(raw)
    except (ValueError, ValidationError):
        raise ConsortiumError(E.KEY_INVALID, f"{where} does not hold a 32-byte secp256k1 private key in hex") from None


def load_node_key(node_dir: Path) -> NodeKey:
    path = Path(node_dir) / KEY_FILE
    if not path.is_file():
        raise ConsortiumError(E.NOT_INITIALISED, f"{path} does not exist: run `citypoints consortium init` first")
    key = parse_private_key(path.read_text(encoding="ascii"), str(path))
    pub = Path(node_dir) / PUB_FILE
    if pub.is_file() and pub.read_text(encoding="ascii").strip().lower().removeprefix("0x") != key.enode_id:
        raise ConsortiumError(E.KEY_INVALID, f"{pub} does not match {path}: regenerate it or restore the pair")
    return key


def write_node_key(node_dir: Path, key: NodeKey) -> None:
    """Write key (0600), key.pub and address. The private key file is created 0600 from the start."""
    node_dir = Path(node_dir)
    node_dir.mkdir(parents=True, exist_ok=True)
    _write_private(node_dir / KEY_FILE, "0x" + key.private_key.hex())
    _write_public(node_dir / PUB_FILE, "0x" + key.enode_id)
    _write_public(node_dir / ADDRESS_FILE, key.address)


def ensure_node_key(node_dir: Path) -> tuple[NodeKey, bool]:
    """Load the node's key if it exists, else generate and write one. Returns (key, generated)."""
    if (Path(node_dir) / KEY_FILE).exists():
        key = load_node_key(node_dir)
        os.chmod(Path(node_dir) / KEY_FILE, 0o600)
        # keep the public files in step (they may have been deleted)
        _write_public(Path(node_dir) / PUB_FILE, "0x" + key.enode_id)
        _write_public(Path(node_dir) / ADDRESS_FILE, key.address)
        return key, False
    key = generate_node_key()
    write_node_key(node_dir, key)
    return key, True


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _write_public(path: Path, text: str) -> None:
    path.write_text(text, encoding="ascii")
    os.chmod(path, 0o644)
