"""The operator's key for the embedded deployment: created once under var/keys/, readable by its owner only; and the
token of the embedded node's operator channel (var/chain/operator.token).

A production consortium keeps operator keys in an encrypted keystore or an HSM; the embedded
single-machine deployment keeps one file so `make up` needs no prompt.
"""
from __future__ import annotations

import os
import secrets
import string
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger_node import paths
from ledger_node.errors import LedgerNodeError


def operator_account() -> LocalAccount:
    path = paths.keys_dir() / "operator.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(Account.create().key.hex())
    return Account.from_key(path.read_text().strip())


# The operator channel's token: hex, at least this many bytes of randomness. New tokens have 32; nodes made before
# this check wrote 24, still far beyond guessing (2**192), so they keep working.
TOKEN_BYTES = 32
TOKEN_MIN_BYTES = 24


class TokenError(LedgerNodeError):
    """The operator token file cannot be used; the message says how to make a new one."""


def operator_token(path: Path) -> str:
    """The operator channel's token from `path`, created (owner-readable only) if missing. An empty, short or
    non-hex token is refused: the channel would take requests with a guessable token, or none at all."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(TOKEN_BYTES))
    token = path.read_text().strip()
    if len(token) < 2 * TOKEN_MIN_BYTES or not all(c in string.hexdigits for c in token):
        what = "is empty" if not token else (f"holds {len(token)} characters" if all(
            c in string.hexdigits for c in token) else "is not hexadecimal")
        raise TokenError(f"the operator token {path} {what}: it must be at least {2 * TOKEN_MIN_BYTES} hex digits "
                         f"({TOKEN_MIN_BYTES} random bytes). Delete the file and start the node again (a new "
                         f"{TOKEN_BYTES}-byte token is written), or write one yourself: "
                         f"python -c 'import secrets; print(secrets.token_hex({TOKEN_BYTES}))' > {path}")
    return token
