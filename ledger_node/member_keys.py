"""The key a consortium member signs with (`citypoints gov`, `citypoints settle`): an encrypted eth-account keystore
(Web3 Secret Storage), given by path (`--keystore FILE`) or by name (`--as NAME`: `var/keys/members/NAME.json`
under the CityPoints home), made by `citypoints gov key new|import`: 0600 in a 0700 folder, since a member's key can
move the city's rules.

The password comes from CITYPOINTS_KEYSTORE_PASSWORD, else from the caller's prompt; it is never taken as an
argument, so it stays out of the shell history and the process list. The key is only ever held decrypted in memory.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ledger_node import paths
from ledger_node.errors import LedgerNodeError

if TYPE_CHECKING:  # eth_account costs ~350 ms: imported where a key is read or made, not by every CLI start
    from eth_account.signers.local import LocalAccount

PASSWORD_ENV = "CITYPOINTS_KEYSTORE_PASSWORD"
# a member's name is a file name under var/keys/members/, never a path
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class KeystoreError(LedgerNodeError):
    """No usable key: none given, both given, no such file, a bad name, a wrong password, or (making one) a name
    taken or a private key that is not one; `code` is stable."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def members_dir() -> Path:
    return paths.keys_dir() / "members"


def member_keystore(name: str) -> Path:
    """`var/keys/members/NAME.json` under the CityPoints home."""
    if not _NAME.match(name):
        raise KeystoreError("invalid_key_name", f"{name!r} is not a member key name (letters, digits, '_', '.', '-')")
    return members_dir() / f"{name}.json"


def load_account(keystore: Path | str | None = None, name: str | None = None, *,
                 prompt: Callable[[str], str] | None = None) -> LocalAccount:
    """The account of `keystore` or of member `name` (exactly one of them), decrypted with the password from
    CITYPOINTS_KEYSTORE_PASSWORD or, when that is unset, from `prompt`."""
    if (keystore is None) == (name is None):
        raise KeystoreError("no_signer" if keystore is None else "two_signers",
                            "give the signing key with --keystore FILE or --as NAME" if keystore is None
                            else "give --keystore or --as, not both")
    path = Path(keystore) if keystore is not None else member_keystore(name)
    try:
        blob = json.loads(path.read_text())
    except FileNotFoundError:
        raise KeystoreError("keystore_not_found", f"no keystore at {path}") from None
    except (OSError, ValueError) as exc:
        raise KeystoreError("keystore_unreadable", f"cannot read keystore {path}: {exc}") from None
    from eth_account import Account

    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        if prompt is None:
            raise KeystoreError("keystore_password", f"keystore {path} needs a password: set {PASSWORD_ENV}")
        password = prompt(f"password of {path.name}")
    try:
        return Account.from_key(Account.decrypt(blob, password))
    except (ValueError, KeyError, TypeError) as exc:
        raise KeystoreError("keystore_password", f"cannot decrypt keystore {path}: {exc}") from None


def new_key(name: str, password: str, private_key: str | None = None) -> tuple[str, Path]:
    """Create member `name`'s keystore (never over another) of a new key, or of `private_key` (hex) when given;
    return (address, path)."""
    from eth_account import Account

    path = member_keystore(name)
    try:
        account = Account.from_key(private_key.strip()) if private_key is not None else Account.create()
    except (ValueError, TypeError):
        raise KeystoreError("invalid_private_key", "the private key is not 32 bytes of hex") from None
    folder = path.parent
    folder.mkdir(parents=True, mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)
    blob = json.dumps(Account.encrypt(account.key, password))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeystoreError("key_exists", f"a key named {name!r} exists already: {path}") from None
    with os.fdopen(fd, "w") as f:
        f.write(blob)
        f.flush()
        os.fsync(f.fileno())
    paths.fsync_dir(folder)
    return account.address, path


def load_account_at_terminal(keystore: Path | str | None = None, name: str | None = None) -> LocalAccount:
    """`load_account` for a command line (`citypoints gov`, `citypoints settle`): the password, when the environment
    has none, is asked on the terminal; no terminal, or ^C / ^D at the prompt, is `keystore_password`."""
    import typer

    def prompt(text: str) -> str:
        try:
            return typer.prompt(text, hide_input=True, err=True)
        except typer.Abort:
            raise KeystoreError("keystore_password", f"no password given ({PASSWORD_ENV} is unset)") from None

    return load_account(keystore, name, prompt=prompt)
