"""Where the project keeps things. `CITYPOINTS_HOME` moves the whole var/ + build/ tree (tests use it)."""
from __future__ import annotations

import os
from pathlib import Path

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


def deployment_file() -> Path:
    return var_dir() / "deployment.json"


def demo_file() -> Path:
    return var_dir() / "demo.json"


def keys_dir() -> Path:
    return var_dir() / "keys"
