"""Who signs the issuer's transactions: a key from an encrypted keystore, or anything that signs a hash (an HSM).

A signer needs two things: `address` and `sign_hash(digest) -> (y_parity, r, s)` over the 32-byte
EIP-1559 signing hash. The SDK builds and serialises the transaction itself (encoding.UnsignedTx),
so an HSM integration implements `sign_hash` only and never sees an Ethereum library.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

from eth_account import Account
from eth_keys import keys

from issuer_sdk.encoding import UnsignedTx
from issuer_sdk.errors import ConfigurationError


@runtime_checkable
class Signer(Protocol):
    """The signer interface. Implement it for an HSM: `sign_hash` gets the transaction's signing hash."""

    @property
    def address(self) -> str: ...

    def sign_hash(self, digest: bytes) -> tuple[int, int, int]: ...


def sign_tx(signer: Signer, tx: UnsignedTx) -> bytes:
    """Raw signed bytes of `tx`, ready for eth_sendRawTransaction."""
    y_parity, r, s = signer.sign_hash(tx.signing_hash())
    return tx.with_signature(y_parity, r, s)


class LocalSigner:
    """A private key held in memory (decrypted from a keystore, or given directly in tests and the demo)."""

    def __init__(self, private_key: bytes | str):
        if isinstance(private_key, str):
            private_key = bytes.fromhex(private_key.removeprefix("0x"))
        self._key = keys.PrivateKey(private_key)
        self._address = self._key.public_key.to_checksum_address()
        if _coincurve is None:
            _build_table()  # once per process (~0.3 s), so the first transaction does not pay for it

    @property
    def address(self) -> str:
        return self._address

    def sign_hash(self, digest: bytes) -> tuple[int, int, int]:
        if _coincurve is not None:
            sig = _coincurve.PrivateKey(self._key.to_bytes()).sign_recoverable(digest, hasher=None)
            return sig[64], int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big")
        return fast_sign(digest, self._key.to_bytes())

    def __repr__(self) -> str:  # never print the key
        return f"LocalSigner({self._address})"


# -- signing without a C library ------------------------------------------------------------------------------
#
# eth-keys' pure-Python backend spends about 2 ms per signature on the generic double-and-add k*G, more
# than anvil takes to run an issuance. `fast_sign` computes the same RFC 6979 signature (byte-equal to
# eth-keys, tested) with a fixed-base table for G: 32 point additions instead of ~380 operations.
# With coincurve installed, libsecp256k1 signs instead.

try:  # optional: libsecp256k1 through coincurve
    import coincurve as _coincurve
except ImportError:  # pragma: no cover - depends on the environment
    _coincurve = None

_P = 2**256 - 2**32 - 977
_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
      0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)
_table: list[list[tuple[int, int] | None]] | None = None
_table_lock = threading.Lock()


def fast_sign(digest: bytes, private_key: bytes) -> tuple[int, int, int]:
    """ECDSA over secp256k1 with RFC 6979 k and low s: (y_parity, r, s), as eth-keys computes it."""
    from eth_keys.backends.native.ecdsa import deterministic_generate_k

    z = int.from_bytes(digest, "big")
    d = int.from_bytes(private_key, "big")
    k = deterministic_generate_k((z % _N).to_bytes(32, "big"), private_key)
    x, y = _base_multiply(k)
    r = x % _N
    s_raw = pow(k, -1, _N) * (z + r * d) % _N
    if r == 0 or s_raw == 0:  # pragma: no cover - probability 2**-256
        raise ValueError("degenerate signature")
    low = s_raw * 2 < _N
    return (y & 1) ^ (0 if low else 1), r, (s_raw if low else _N - s_raw)


def _base_multiply(k: int) -> tuple[int, int]:
    table = _table or _build_table()
    X, Y, Z = 0, 1, 0  # Jacobian infinity
    for i in range(32):
        j = (k >> (8 * i)) & 0xFF
        if j:
            x2, y2 = table[i][j]
            if Z == 0:
                X, Y, Z = x2, y2, 1
                continue
            zz = Z * Z % _P
            h = (x2 * zz - X) % _P
            rr = (y2 * Z * zz - Y) % _P
            if h == 0:  # pragma: no cover - needs k to hit a table point twice; fall back
                from eth_keys.backends.native.ecdsa import fast_multiply
                return fast_multiply(_G, k)
            hh = h * h % _P
            hhh = h * hh % _P
            v = X * hh % _P
            X3 = (rr * rr - hhh - 2 * v) % _P
            Y = (rr * (v - X3) - Y * hhh) % _P
            X = X3
            Z = Z * h % _P
    zi = pow(Z, -1, _P)
    zi2 = zi * zi % _P
    return X * zi2 % _P, Y * zi2 * zi % _P


def _build_table():
    global _table
    with _table_lock:
        if _table is None:
            table = []
            base = _G
            for _ in range(32):
                row: list = [None, base]
                for _ in range(254):
                    row.append(_affine_add(row[-1], base))
                table.append(row)
                base = _affine_add(row[255], base)  # 256 * base
            _table = table
    return _table


def _affine_add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    if a == b:
        lam = 3 * a[0] * a[0] * pow(2 * a[1], -1, _P) % _P
    else:
        lam = (b[1] - a[1]) * pow(b[0] - a[0], -1, _P) % _P
    x = (lam * lam - a[0] - b[0]) % _P
    return x, (lam * (a[0] - x) - a[1]) % _P


def keystore_signer(path: str | Path, password: str | bytes | None = None, *,
                    password_env: str = "CITYPOINTS_KEYSTORE_PASSWORD") -> LocalSigner:
    """Decrypt an eth-account (Web3 Secret Storage) keystore file. The password comes from the argument,
    else from the environment variable `password_env`."""
    path = Path(path)
    if password is None:
        password = os.environ.get(password_env)
        if password is None:
            raise ConfigurationError(f"keystore {path} needs a password: pass it or set {password_env}")
    try:
        key = Account.decrypt(json.loads(path.read_text()), password)
    except FileNotFoundError:
        raise ConfigurationError(f"no keystore at {path}") from None
    except ValueError as exc:
        raise ConfigurationError(f"cannot decrypt keystore {path}: {exc}") from None
    return LocalSigner(bytes(key))


def write_keystore(path: str | Path, private_key: bytes | str, password: str, *, kdf: str = "scrypt",
                   iterations: int | None = None) -> str:
    """Encrypt a key into a keystore file readable by its owner only; returns the address."""
    blob = Account.encrypt(private_key, password, kdf=kdf, iterations=iterations)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(blob, f)
    return Account.from_key(private_key).address
