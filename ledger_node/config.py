"""The embedded node's fixed parameters. Environment variables override them (tests use other ports)."""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class NodeConfig:
    chain_id: int = 7007
    host: str = "127.0.0.1"
    port: int = 8545
    hardfork: str = "prague"
    # Block gas limit of new chains (an existing chain keeps its genesis value). Large on purpose: anvil
    # rebuilds the whole state trie once per block, so a block that carries a whole period's backlog
    # (about 30,000 issued items) is what keeps issuance above 2,000 items/s on a big ledger.
    gas_limit: int = 1_000_000_000
    # Native coin is worthless here; every transacting account gets this much so standard tools work.
    funding_wei: int = 10**24
    # kept for callers of the first node version; the supervisor uses snapshot_interval_s
    state_interval_s: float = 5.0
    # The engine behind the gateway: "anvil" (default, chosen by measurement: ledger_node/README.md) or
    # "hardhat" (EDR).
    engine: str = "anvil"
    # Seconds between blocks; every pending transaction goes into the next block. 0 = a block per transaction.
    block_period_s: float = 1.0
    # The operator channel listens on 127.0.0.1 only; 0 picks a free port (written to var/chain/node.json).
    operator_port: int = 0
    # anvil only: a state snapshot every this many seconds, or sooner once the journal since the last one
    # holds this many bytes (it bounds the replay on restart); never more often than 10x the last dump's
    # duration, since block production pauses during a dump.
    snapshot_interval_s: float = 600.0
    snapshot_journal_bytes: int = 32 * 1024 * 1024

    @property
    def rpc_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @classmethod
    def from_env(cls) -> "NodeConfig":
        env = os.environ.get
        return cls(
            chain_id=int(env("CITYPOINTS_CHAIN_ID", cls.chain_id)),
            port=int(env("CITYPOINTS_RPC_PORT", cls.port)),
            engine=env("CITYPOINTS_ENGINE", cls.engine),
            block_period_s=float(env("CITYPOINTS_BLOCK_PERIOD", cls.block_period_s)),
            operator_port=int(env("CITYPOINTS_OPERATOR_PORT", cls.operator_port)),
            snapshot_interval_s=float(env("CITYPOINTS_SNAPSHOT_INTERVAL", cls.snapshot_interval_s)),
            snapshot_journal_bytes=int(env("CITYPOINTS_SNAPSHOT_JOURNAL_BYTES", cls.snapshot_journal_bytes)),
        )
