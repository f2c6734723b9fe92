"""Who signs the issuer's transactions: a key from an encrypted keystore, or anything that signs a hash (an HSM).

A signer needs two things: `address` and `sign_hash(digest) -> (y_parity, r, s)` over the 32-byte
EIP-1559 signing hash. The SDK builds and serialises the transaction itself (encoding.UnsignedTx),
so an HSM integration implements `sign_hash` only and never sees an Ethereum library.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Protocol, runtime_checkable

import coincurve
from eth_account import Account
from eth_hash.auto import keccak
from eth_utils import to_checksum_address

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


class AddressOnly:
    """The issuer's address without its key: a client that only reads (a dry run) knows whose sequence book and
    sequence numbers to ask about, and cannot sign."""

    def __init__(self, address: str):
        self.address = to_checksum_address(address)

    def sign_hash(self, digest: bytes) -> tuple[int, int, int]:
        raise ConfigurationError("this client only reads: it has the issuer's address, not its key")


def keystore_address(path: str | Path) -> str:
    """The address an eth-account keystore file names (no password needed)."""
    try:
        return to_checksum_address("0x" + json.loads(Path(path).read_text())["address"].removeprefix("0x"))
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigurationError(f"{path} is not a keystore with an address ({exc})") from None


class LocalSigner:
    """A private key held in memory (decrypted from a keystore, or given directly in tests and the demo)."""

    def __init__(self, private_key: bytes | str):
        if isinstance(private_key, str):
            private_key = bytes.fromhex(private_key.removeprefix("0x"))
        if len(private_key) != 32:  # coincurve would pad a short key rather than refuse it
            raise ValueError(f"a private key is 32 bytes, got {len(private_key)}")
        self._key = coincurve.PrivateKey(bytes(private_key))  # parsed once, not again for every signature
        public = self._key.public_key.format(compressed=False)[1:]
        self._address = to_checksum_address(keccak(public)[-20:])

    @property
    def address(self) -> str:
        return self._address

    def sign_hash(self, digest: bytes) -> tuple[int, int, int]:
        return _split(self._key.sign_recoverable(digest, hasher=None))

    def __repr__(self) -> str:  # never print the key
        return f"LocalSigner({self._address})"


def _split(signature: bytes) -> tuple[int, int, int]:
    """coincurve's 65 bytes r ‖ s ‖ recovery id as (y_parity, r, s)."""
    return signature[64], int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big")


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
