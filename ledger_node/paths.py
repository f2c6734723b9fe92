"""Where the project keeps things, and how a file there is replaced safely. `CITYPOINTS_HOME` moves the whole
var/ + build/ tree (tests use it)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Callable

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS_DIR = ROOT / "contracts"
NODE_MODULES = ROOT / "node_modules"
SOLC_WRAPPER = ROOT / "ledger_node" / "bin" / "solc"
ANVIL_BIN = NODE_MODULES / ".bin" / "anvil"
COMPILER_SETTINGS = CONTRACTS_DIR / "compiler.json"


def home() -> Path:
    return Path(os.environ.get("CITYPOINTS_HOME", ROOT))


def var_dir() -> Path:
    return home() / "var"


def build_dir() -> Path:
    return ROOT / "build" / "contracts"


def chain_dir() -> Path:
    return var_dir() / "chain"


def node_file() -> Path:
    """The running node's pid, RPC and operator URLs, written by the supervisor, read by `node status` and backup."""
    return chain_dir() / "node.json"


def deployment_file() -> Path:
    return var_dir() / "deployment.json"


def demo_file() -> Path:
    return var_dir() / "demo.json"


def keys_dir() -> Path:
    return var_dir() / "keys"


def replace_atomically(path: Path, write: Callable[[IO[str]], object]) -> None:
    """Replace `path` whole or not at all: `write` fills a temporary file beside it, which is fsynced and
    renamed over `path` in one step; the directory is fsynced so that the rename survives a crash too."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_synced(path: Path, data: bytes) -> None:
    """Write `path` and fsync it (not atomic: for files nothing reads until they are complete)."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def fsync_dir(directory: Path) -> None:
    """Make the directory's entries (a file created, renamed or removed in it) survive a crash."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
