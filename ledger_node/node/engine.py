"""The EVM engines the embedded node can run behind its gateway, sealed (engine_process.py: a Unix socket only the
node's user can open, no reachable TCP port), mining only on demand.

- `anvil` (default): foundry's anvil. Executes PointsLedger issuance about 6x faster than EDR here and
  restores fast from `anvil_dumpState` snapshots; but every block rebuilds the whole state trie, so
  blocks get slower as the ledger grows (README.md, Engine choice, has the measurements).
- `hardhat`: Hardhat's node, i.e. the Rust EDR engine. Its block cost does not grow with the ledger or
  the number of blocks, but it runs PointsLedger several times slower and cannot dump or load state,
  so the node restores it by replaying the whole journal (compacted into `state.dump` on a clean stop).

Both are started with automatic mining off: the gateway decides when a block is mined and at which
timestamp, and journals what each block holds before anyone is shown it.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

from eth_account import Account

from ledger_node import paths
from ledger_node.node.anvil import AnvilProcess, write_genesis
from ledger_node.config import NodeConfig
from ledger_node.node.engine_process import EngineProcess, NodeError, free_port

HARDHAT_BIN = paths.NODE_MODULES / ".bin" / "hardhat"
HARDHAT_CONFIG = Path(__file__).resolve().parent / "hardhat.config.js"
HARDHAT_SERVER = Path(__file__).resolve().parent / "hardhat_ipc.js"  # Hardhat's provider on a Unix socket
ENGINES = ("hardhat", "anvil")


class Engine:
    """An engine behind the gateway: its process (`proc`) answering JSON-RPC on the Unix socket `socket`
    (engine_client.py), and the calls that mine, set its clock, dump and load its state."""
    name = "engine"
    can_snapshot = False

    def __init__(self, cfg: NodeConfig, directory: Path, alloc: dict[str, int], *, sealed: bool = False):
        """`alloc`: genesis balances by private key (hex), the operator's and any test account's. `sealed` (the
        node's engine, supervisor.py): no TCP port anyone can reach, only the socket; otherwise its port is open on
        127.0.0.1 too (`url`: bare-engine benchmarks, tests that compare with the engine directly)."""
        self.directory = directory
        self.port = free_port()
        self.sealed = sealed
        self.socket = directory / "engine-socket" / f"{self.name}.ipc"
        self.proc: EngineProcess

    @property
    def url(self) -> str:
        """The engine's own HTTP port, for an engine that is not sealed."""
        if self.sealed:
            raise NodeError("the sealed engine has no reachable port; talk to it on its socket (engine_client.py)")
        return self.proc.url

    def start(self) -> None:
        self.proc.start()

    def stop(self) -> None:
        self.proc.stop()

    def alive(self) -> bool:
        return self.proc.alive()

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

    def __init__(self, cfg: NodeConfig, directory: Path, alloc: dict[str, int], *, sealed: bool = False):
        super().__init__(cfg, directory, alloc, sealed=sealed)
        genesis = directory / "genesis.json"
        if not genesis.exists():
            write_genesis(genesis, cfg, {Account.from_key(k).address: wei for k, wei in alloc.items()})
        # the chain's own gas limit, whatever the configuration says today (a replay must build equal blocks)
        gas_limit = int(json.loads(genesis.read_text())["gasLimit"], 16)
        self.proc = AnvilProcess(dataclasses.replace(cfg, host="127.0.0.1", port=self.port, gas_limit=gas_limit), genesis,
                                 directory / "engine.log", no_mining=True, socket=self.socket, sealed=sealed)

    def clock_params(self, timestamp: int) -> list[tuple[str, list]]:
        # anvil refuses a block timestamp below its own clock, which starts at the wall clock (and after
        # anvil_loadState at least at the dump's time): a replay of past blocks winds the clock back first.
        return [("evm_setTime", [timestamp])]

    def dump(self) -> str:
        return self.proc.dump_state()

    def load(self, blob: str) -> None:
        self.proc.load_state(blob)


class HardhatProcess(EngineProcess):
    name = "hardhat node"

    def __init__(self, cfg: NodeConfig, port: int, directory: Path, alloc: dict[str, int], *, socket: Path,
                 sealed: bool):
        super().__init__("127.0.0.1", port, directory / "engine.log", socket=socket, sealed=sealed)
        self.settings = {"chainId": cfg.chain_id, "hardfork": cfg.hardfork, "gasLimit": cfg.gas_limit,
                         "alloc": {_hex(k): str(w) for k, w in alloc.items()},
                         "cache": str(directory.absolute() / "hardhat-cache"),
                         "socket": socket.name, "socketDir": str(socket.parent.absolute()),
                         **({} if sealed else {"hostname": self.host, "port": port})}

    def command(self) -> list[str]:
        node = shutil.which("node")
        if not node:
            raise NodeError("node (Node.js) is not on PATH; the hardhat engine runs on it")
        return [node, str(HARDHAT_SERVER)]

    def environment(self) -> dict:
        return dict(os.environ, HARDHAT_DISABLE_TELEMETRY_PROMPT="true", CI="true", HARDHAT_CONFIG=str(HARDHAT_CONFIG),
                    CITYPOINTS_ENGINE_SETTINGS=json.dumps(self.settings))

    def on_ready(self) -> None:
        self.call("hardhat_setLoggingEnabled", [False])

    def start(self, timeout: float = 60.0, cwd: Path | None = paths.ROOT) -> None:
        if not HARDHAT_BIN.exists():
            raise NodeError(f"{HARDHAT_BIN} is missing; run `make setup` (npm ci installs hardhat)")
        super().start(timeout, cwd)


class HardhatEngine(Engine):
    name = "hardhat"

    def __init__(self, cfg: NodeConfig, directory: Path, alloc: dict[str, int], *, sealed: bool = False):
        super().__init__(cfg, directory, alloc, sealed=sealed)
        self.proc = HardhatProcess(cfg, self.port, directory, alloc, socket=self.socket, sealed=sealed)
        self.proc.settings["genesisTimestamp"] = _hardhat_genesis_time(cfg, directory, alloc)

    def mine_params(self, timestamp: int) -> list[tuple[str, list]]:
        # EIP-1559 raises a zero base fee to 1 wei after a full block; the chain's fee stays zero.
        return [("hardhat_setNextBlockBaseFeePerGas", ["0x0"]), ("evm_mine", [timestamp])]


def make_engine(name: str, cfg: NodeConfig, directory: Path, alloc: dict[str, int], *,
                sealed: bool = False) -> Engine:
    if name == "anvil":
        return AnvilEngine(cfg, directory, alloc, sealed=sealed)
    if name == "hardhat":
        return HardhatEngine(cfg, directory, alloc, sealed=sealed)
    raise NodeError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")


def _hardhat_genesis_time(cfg: NodeConfig, directory: Path, alloc: dict[str, int]) -> int:
    """The chain's genesis time, kept in its genesis.json as anvil's is: the genesis block's hash depends on it, so
    every start (and every replay) must give the engine the same one. A new chain takes the present; a chain
    created before its time was kept started at 0 (1970), and keeps that."""
    genesis = directory / "genesis.json"
    if not genesis.exists():
        if (directory / "state.dump").exists() or any((directory / "journal").glob("*.wal")):
            return 0
        write_genesis(genesis, cfg, {Account.from_key(k).address: wei for k, wei in alloc.items()})
    return int(json.loads(genesis.read_text())["timestamp"], 16)


def _hex(key: str) -> str:
    return key if key.startswith("0x") else "0x" + key
