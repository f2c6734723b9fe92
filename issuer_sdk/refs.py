"""Refs: the issuer system's own event ids, hashed with the issuer's salt before they go on chain.

Event hash = keccak256(salt || utf8(ref)). The salt is a fixed 32 bytes, so the concatenation is
unambiguous; without the salt nobody can test a guessed id (a ticket number, a trip id) against the
chain. The on-chain ref is the issuer's sequence number for the id followed by the hash's last 24 bytes
(issuer_sdk/sequence_book.py): the same id always gets the same number, which makes retries and reruns
safe, since the ledger never takes a number twice.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

from eth_hash.auto import keccak

from issuer_sdk.errors import ConfigurationError

SALT_BYTES = 32


class RefHasher:
    def __init__(self, salt: bytes | str):
        if isinstance(salt, str):
            try:
                salt = bytes.fromhex(salt.removeprefix("0x"))
            except ValueError:
                raise ConfigurationError("the issuer salt is 32 bytes in hex") from None
        if len(salt) != SALT_BYTES:
            raise ConfigurationError(f"the issuer salt is {SALT_BYTES} bytes, got {len(salt)}")
        self._salt = bytes(salt)

    def __call__(self, ref: str | bytes | int) -> bytes:
        if type(ref) is str and ref:  # the common case, without ref_bytes' checks
            return _keccak(self._salt + ref.encode())
        return _keccak(self._salt + ref_bytes(ref))

    def __repr__(self) -> str:  # the salt is a secret of the issuer
        return "RefHasher(<salt>)"


def _direct_keccak():
    """keccak256 through pycryptodome's C functions, called through cffi without its Python wrapper, on a
    hashing state each thread keeps and resets instead of allocating one a ref (together about half the cost
    per ref). None when this pycryptodome lacks them or they disagree with eth_hash."""
    try:
        from Crypto.Hash.keccak import _raw_keccak_lib as lib
        from Crypto.Util import _raw_api

        if _raw_api.backend != "cffi":  # pragma: no cover
            return None
        ffi = _raw_api.ffi
    except ImportError:  # pragma: no cover
        return None
    local = threading.local()

    def thread_state():
        holder = ffi.new("void **")
        if lib.keccak_init(holder, 64, 24):  # capacity 512 bits, 24 rounds: Keccak-256
            raise MemoryError("keccak_init failed")  # pragma: no cover
        out = ffi.new("uint8_t[32]")
        local.state = (ffi.gc(holder[0], lib.keccak_destroy), out, ffi.buffer(out))  # freed with the thread
        return local.state

    def digest(data: bytes) -> bytes:
        try:
            state, out, view = local.state
        except AttributeError:
            state, out, view = thread_state()
        lib.keccak_reset(state)
        lib.keccak_absorb(state, data, len(data))
        lib.keccak_digest(state, out, 32, 0x01)  # original Keccak padding, not SHA-3's
        return view[:]

    try:
        probe = bytes(range(256)) * 2
        if all(digest(probe[:n]) == keccak(probe[:n]) for n in (0, 1, 31, 32, 135, 136, 137, 271, 272, 512)):
            return digest
    except Exception:  # pragma: no cover - any mismatch or missing symbol: use the public path
        pass
    return None  # pragma: no cover


_keccak = _direct_keccak() or keccak


def ref_bytes(ref: str | bytes | int) -> bytes:
    if isinstance(ref, str):
        if not ref:
            raise ValueError("a ref is a non-empty id")
        return ref.encode()
    if isinstance(ref, (bytes, bytearray)):
        if not ref:
            raise ValueError("a ref is a non-empty id")
        return bytes(ref)
    if isinstance(ref, int) and not isinstance(ref, bool):
        return str(ref).encode()
    raise TypeError(f"a ref is a str, bytes or int, got {type(ref).__name__}")


def new_salt() -> str:
    return "0x" + os.urandom(SALT_BYTES).hex()


def load_salt(path: str | Path) -> bytes:
    """Read a salt file (hex), as created by `new_salt` and kept secret by the issuer."""
    try:
        return bytes.fromhex(Path(path).read_text().strip().removeprefix("0x"))
    except FileNotFoundError:
        raise ConfigurationError(f"no salt file at {path}") from None
