"""The embedded node's supervisor process: runs anvil, restores its saved state, saves it periodically
and on SIGTERM/SIGINT, then stops anvil. Started detached by `citypoints node start`.

Run directly: python -m ledger_node.supervisor
"""
from __future__ import annotations

import json
import os
import signal
import sys
import threading

from ledger_node import paths, state_file
from ledger_node.anvil import AnvilProcess, NodeError, write_genesis
from ledger_node.config import NodeConfig
from ledger_node.keys import operator_account


def runtime_file():
    return paths.chain_dir() / "node.json"


def state_path():
    return paths.chain_dir() / "state.dump"


def genesis_path():
    return paths.chain_dir() / "genesis.json"


def main() -> int:
    cfg = NodeConfig.from_env()
    chain = paths.chain_dir()
    chain.mkdir(parents=True, exist_ok=True)
    if not genesis_path().exists():
        write_genesis(genesis_path(), cfg, {operator_account().address: cfg.funding_wei})
    node = AnvilProcess(cfg, genesis_path(), chain / "anvil.log")
    try:
        node.start()
        if state_path().exists():
            blob, height = state_file.read(state_path())
            node.load_state(blob)
            print(f"restored chain at block {height}", flush=True)
    except (NodeError, state_file.CorruptState) as exc:
        node.stop()
        print(f"error: {exc}", flush=True)
        return 1
    runtime_file().write_text(json.dumps({"pid": os.getpid(), "rpcUrl": cfg.rpc_url, "chainId": cfg.chain_id}))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    saved_height = -1
    while not stop.wait(cfg.state_interval_s):
        if not node.alive():
            print("error: anvil exited unexpectedly", flush=True)
            runtime_file().unlink(missing_ok=True)
            return 1
        saved_height = _save(node, saved_height)
    _save(node, -1)
    node.stop()
    runtime_file().unlink(missing_ok=True)
    print("stopped cleanly, state saved", flush=True)
    return 0


def _save(node: AnvilProcess, saved_height: int) -> int:
    height = int(node.call("eth_blockNumber"), 16)
    if height != saved_height:
        state_file.write(state_path(), node.dump_state(), height)
    return height


if __name__ == "__main__":
    sys.exit(main())
