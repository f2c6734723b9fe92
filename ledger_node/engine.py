"""The EVM engines the embedded node can run behind its gateway, on a private port, mining only on demand.

- `anvil` (default): foundry's anvil. Executes PointsLedger issuance about 6x faster than EDR here and
  restores fast from `anvil_dumpState` snapshots; but every block rebuilds the whole state trie, so
  blocks get slower as the ledger grows (README.md, Engine choice, has the measurements).
- `hardhat`: Hardhat's node, i.e. the Rust EDR engine. Its block cost does not grow with the ledger or
  the number of blocks, but it runs PointsLedger several times slower and cannot dump or load state,
  so the node restores it by replaying the whole journal (compacted into `state.dump` on a clean stop).

Both are started with automatic mining off: the gateway decides when a block is mined and at which
timestamp, and journals that before it happens.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import time
import urllib.error
from pathlib import Path

from eth_account import Account

from ledger_node import paths
from ledger_node.anvil import AnvilProcess, NodeError, die_with_parent, free_port, rpc, write_genesis
from ledger_node.config import NodeConfig

HARDHAT_BIN = paths.NODE_MODULES / ".bin" / "hardhat"
HARDHAT_CONFIG = Path(__file__).resolve().parent / "hardhat.config.js"
ENGINES = ("hardhat", "anvil")


class Engine:
    name = "engine"
    can_snapshot = False

    def __init__(self, cfg: NodeConfig, directory: Path, alloc: dict[str, int]):
        """`alloc`: genesis balances by private key (hex), the operator's and any test account's."""
        self.cfg = cfg
        self.directory = directory
        self.alloc = alloc
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def alive(self) -> bool: ...

    def mine_params(self, timestamp: int) -> list[tuple[str, list]]:
        """The RPC calls that mine one block at `timestamp` from the pool."""
        return [("evm_mine", [timestamp])]

    def clock_params(self, timestamp: int) -> list[tuple[str, list]]:
        """The RPC calls that set the engine's clock (before a replay of past blocks, and back after it)."""
        return []

    def dump(self) -> str:
        raise NodeError(f"{self.name} cannot dump its state")

    def load(self, blob: str) -> None:
        raise NodeError(f"{self.name} cannot load a state")


class AnvilEngine(Engine):
    name = "anvil"
    can_snapshot = True

    def __init__(self, cfg: NodeConfig, directory: Path, alloc: dict[str, int]):
        super().__init__(cfg, directory, alloc)
        genesis = directory / "genesis.json"
        if not genesis.exists():
            write_genesis(genesis, cfg, {Account.from_key(k).address: wei for k, wei in alloc.items()})
        # the chain's own gas limit, whatever the configuration says today (a replay must build equal blocks)
        gas_limit = int(json.loads(genesis.read_text())["gasLimit"], 16)
        self.proc = AnvilProcess(dataclasses.replace(cfg, host="127.0.0.1", port=self.port, gas_limit=gas_limit), genesis,
                                 directory / "engine.log", no_mining=True)

    def start(self) -> None:
        self.proc.start()

    def stop(self) -> None:
        self.proc.stop()

    def alive(self) -> bool:
        return self.proc.alive()

    def clock_params(self, timestamp: int) -> list[tuple[str, list]]:
        # anvil refuses a block timestamp below its own clock, which starts at the wall clock (and after
        # anvil_loadState at least at the dump's time): a replay of past blocks winds the clock back first.
        return [("evm_setTime", [timestamp])]

    def dump(self) -> str:
        return self.proc.dump_state()

    def load(self, blob: str) -> None:
        self.proc.load_state(blob)


class HardhatEngine(Engine):
    name = "hardhat"

    def __init__(self, cfg: NodeConfig, directory: Path, alloc: dict[str, int]):
        super().__init__(cfg, directory, alloc)
        self.proc: subprocess.Popen | None = None
        self.log = directory / "engine.log"

    def start(self, timeout: float = 60.0) -> None:
        if not HARDHAT_BIN.exists():
            raise NodeError(f"{HARDHAT_BIN} is missing; run `make setup` (npm ci installs hardhat)")
        env = dict(os.environ, HARDHAT_DISABLE_TELEMETRY_PROMPT="true", CI="true",
                   CITYPOINTS_ENGINE_SETTINGS=json.dumps({
                       "chainId": self.cfg.chain_id, "hardfork": self.cfg.hardfork, "gasLimit": self.cfg.gas_limit,
                       "alloc": {_hex(k): str(w) for k, w in self.alloc.items()},
                       "cache": str(self.directory / "hardhat-cache")}))
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([str(HARDHAT_BIN), "--config", str(HARDHAT_CONFIG), "node", "--hostname",
                                          "127.0.0.1", "--port", str(self.port)], cwd=paths.ROOT, env=env,
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         preexec_fn=die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise NodeError(f"hardhat node exited with code {self.proc.returncode}: {_tail(self.log)}")
            try:
                rpc(self.url, "eth_chainId", timeout=1)
                rpc(self.url, "hardhat_setLoggingEnabled", [False])
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        self.stop()
        raise NodeError(f"hardhat node did not answer within {timeout:.0f}s: {_tail(self.log)}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def mine_params(self, timestamp: int) -> list[tuple[str, list]]:
        # EIP-1559 raises a zero base fee to 1 wei after a full block; the chain's fee stays zero.
        return [("hardhat_setNextBlockBaseFeePerGas", ["0x0"]), ("evm_mine", [timestamp])]


def make_engine(name: str, cfg: NodeConfig, directory: Path, alloc: dict[str, int]) -> Engine:
    if name == "anvil":
        return AnvilEngine(cfg, directory, alloc)
    if name == "hardhat":
        return HardhatEngine(cfg, directory, alloc)
    raise NodeError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")


def _tail(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return "(no log)"
    return " | ".join(lines[-5:]) or "(empty log)"


def _hex(key: str) -> str:
    return key if key.startswith("0x") else "0x" + key
