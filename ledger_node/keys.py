"""The operator's key for the embedded deployment: created once under var/keys/, readable by its owner only.

A production consortium keeps operator keys in an encrypted keystore or an HSM; the embedded
single-machine deployment keeps one file so `make up` needs no prompt.
"""
from __future__ import annotations

import os

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger_node import paths


def operator_account() -> LocalAccount:
    path = paths.keys_dir() / "operator.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(Account.create().key.hex())
    return Account.from_key(path.read_text().strip())
