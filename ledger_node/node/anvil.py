"""One anvil process: started from a genesis file, its state dumped and loaded over RPC.

anvil refuses `--init` together with `--state`, so the chain always boots from the same genesis
(same chain id, genesis hash and allocations) and a saved state is loaded into it with
`anvil_loadState`, which restores every block, hash and timestamp.

NodeError, rpc, free_port and port_in_use live in engine_process.py and are imported from here by most callers.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from ledger_node import paths
from ledger_node.config import NodeConfig
from ledger_node.node.engine_process import EngineProcess, NodeError, free_port, port_in_use, rpc

__all__ = ["AnvilProcess", "NodeError", "free_port", "port_in_use", "rpc", "write_genesis"]


def write_genesis(path: Path, cfg: NodeConfig, alloc: dict[str, int]) -> None:
    genesis = {
        "config": {"chainId": cfg.chain_id},
        "nonce": "0x0",
        # anvil's clock runs from the genesis time: a genesis at 0 would put every block in 1970
        "timestamp": hex(int(time.time())),
        "gasLimit": hex(cfg.gas_limit),
        "difficulty": "0x0",
        "baseFeePerGas": "0x0",
        "alloc": {addr: {"balance": hex(wei)} for addr, wei in alloc.items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(genesis, indent=2))


class AnvilProcess(EngineProcess):
    name = "anvil"

    def __init__(self, cfg: NodeConfig, genesis: Path, log: Path, *, block_time: float | None = None,
                 no_mining: bool = False, socket: Path | None = None, sealed: bool = False):
        """Automine by default (the test fixture's fast path); `no_mining` leaves every block to `evm_mine`,
        with the pool first in, first out so a replay builds the same blocks. `socket`, `sealed`: the node's
        engine (engine_process.py): JSON-RPC on that Unix socket (anvil's `--ipc`), no CORS, and with `sealed`
        no reachable TCP port."""
        super().__init__(cfg.host, cfg.port, log, socket=socket, sealed=sealed)
        self.cfg = cfg
        self.genesis = genesis
        self.block_time = block_time
        self.no_mining = no_mining

    def command(self) -> list[str]:
        args = [str(paths.ANVIL_BIN), "--init", str(self.genesis.absolute()), "--host", self.host,
                "--port", str(self.port), "--hardfork", self.cfg.hardfork, "--gas-price", "0",
                "--base-fee", "0", "--gas-limit", str(self.cfg.gas_limit), "--accounts", "0",
                "--no-request-size-limit"]
        if self.block_time:
            args += ["--block-time", str(self.block_time)]
        if self.no_mining:  # behind the gateway, for years: no per-block log lines (node.log has what matters),
            # and the state of the latest blocks only (NodeConfig.state_history_blocks: memory grows with it)
            args += ["--no-mining", "--order", "fifo", "--quiet",
                     "--prune-history", str(max(1, self.cfg.state_history_blocks))]
        if self.socket:  # named from its directory (anvil's cwd): a deep home exceeds a socket path's length limit
            args += ["--ipc", self.socket.name, "--no-cors"]
        return args

    def start(self, timeout: float = 30.0, cwd: Path | None = None) -> None:
        super().start(timeout, cwd or (self.socket.parent if self.socket else None))
        self._clock_to_now()

    def _clock_to_now(self) -> None:
        """anvil's clock runs from the genesis time. A genesis written for Besu (the consortium's, timestamp 0)
        would put every block in 1970: a redemption's redeemedAt would be 0 (an unknown redemption, never
        refundable) and every deadline far in the future. While no block is mined, bring the clock to now."""
        head = self.call("eth_getBlockByNumber", ["latest", False])
        if int(head["number"], 16) == 0 and int(head["timestamp"], 16) < int(time.time()):
            self.call("evm_setTime", [int(time.time())])

    def dump_state(self) -> str:
        return self.call("anvil_dumpState", timeout=3600)  # a 1,000,000-item ledger takes tens of seconds

    def load_state(self, blob: str) -> None:
        if not self.call("anvil_loadState", [blob], timeout=3600):
            raise NodeError("anvil refused the saved state")
        # anvil's clock restarts from the genesis time; bring it to now so new blocks carry the wall time
        latest = int(self.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
        self.call("evm_setTime", [max(int(time.time()), latest + 1)])
