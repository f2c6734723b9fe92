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
    # anvil only: the state of this many latest blocks is kept (eth_call, eth_getBalance, ... at an older block
    # answer BlockOutOfRangeError; the auditor says so, ledger_node/audit/README.md). anvil keeps each block's
    # state as a whole copy: by default 500 of them in memory and 3,600 more on disk, which ran a district's
    # ledger (50,000 residents) out of 24 GiB of memory within minutes. Memory is about this many times the state.
    state_history_blocks: int = 128
    # Seconds between blocks; every pending transaction goes into the next block. 0 = a block per transaction.
    block_period_s: float = 1.0
    # The operator channel listens on 127.0.0.1 only; 0 picks a free port (written to var/chain/node.json).
    operator_port: int = 0
    # anvil only: a state snapshot every this many seconds, or sooner once the journal since the last one
    # holds this many bytes (it bounds the replay on restart); never more often than 10x the last dump's
    # duration, since block production pauses during a dump.
    snapshot_interval_s: float = 600.0
    snapshot_journal_bytes: int = 32 * 1024 * 1024
    # Safety of the public RPC (README.md): `eth_call`/`eth_estimateGas`/`eth_createAccessList` run with at most this
    # much gas (more, or none given, is lowered to it, as geth's --rpc.gascap); a request body of at most this many
    # bytes and a batch of at most this many calls; at most `rpc_read_slots` public reads on the engine at once, of
    # which `rpc_long_read_slots` from clients whose reads take long; at most `rpc_client_reads` reads admitted at
    # once per source address (the rest are answered -32005 "limit exceeded").
    rpc_gas_cap: int = 50_000_000
    rpc_max_body_bytes: int = 10 * 1024 * 1024
    rpc_max_batch: int = 1000
    rpc_read_slots: int = 4
    rpc_long_read_slots: int = 1
    # the part of the engine's time long public reads may take, together (the rest is kept for sends and blocks)
    rpc_long_read_share: float = 0.15
    rpc_client_reads: int = 64
    # Addresses whose reads are never refused nor held back by the limits above (the gas, body and batch caps
    # still apply): the operator's own services when they reach the node from an address of their own. Comma-
    # separated in CITYPOINTS_RPC_TRUSTED_CLIENTS; none by default: on the node's machine every local program
    # (a hostile one too) calls from 127.0.0.1, so trusting it would let any of them hold blocks back.
    rpc_trusted_clients: tuple[str, ...] = ()
    # UNSAFE, for machines without Linux namespaces only: run the engine on an open 127.0.0.1 port instead of
    # sealed in a network namespace of its own (engine_process.py). Any local program, or a web page the
    # machine's browser opens, can then rewrite balances behind the journal and break crash recovery.
    engine_exposed: bool = False

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
            state_history_blocks=int(env("CITYPOINTS_STATE_HISTORY_BLOCKS", cls.state_history_blocks)),
            operator_port=int(env("CITYPOINTS_OPERATOR_PORT", cls.operator_port)),
            snapshot_interval_s=float(env("CITYPOINTS_SNAPSHOT_INTERVAL", cls.snapshot_interval_s)),
            snapshot_journal_bytes=int(env("CITYPOINTS_SNAPSHOT_JOURNAL_BYTES", cls.snapshot_journal_bytes)),
            rpc_gas_cap=int(env("CITYPOINTS_RPC_GAS_CAP", cls.rpc_gas_cap)),
            rpc_max_body_bytes=int(env("CITYPOINTS_RPC_MAX_BODY_BYTES", cls.rpc_max_body_bytes)),
            rpc_max_batch=int(env("CITYPOINTS_RPC_MAX_BATCH", cls.rpc_max_batch)),
            rpc_read_slots=int(env("CITYPOINTS_RPC_READ_SLOTS", cls.rpc_read_slots)),
            rpc_long_read_slots=int(env("CITYPOINTS_RPC_LONG_READ_SLOTS", cls.rpc_long_read_slots)),
            rpc_long_read_share=float(env("CITYPOINTS_RPC_LONG_READ_SHARE", cls.rpc_long_read_share)),
            rpc_client_reads=int(env("CITYPOINTS_RPC_CLIENT_READS", cls.rpc_client_reads)),
            rpc_trusted_clients=tuple(a.strip() for a in env("CITYPOINTS_RPC_TRUSTED_CLIENTS",
                                                             ",".join(cls.rpc_trusted_clients)).split(",") if a.strip()),
            engine_exposed=env("CITYPOINTS_ENGINE_EXPOSED", "0").strip().lower() in ("1", "true", "yes"),
        )
