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
    gas_limit: int = 100_000_000
    # Native coin is worthless here; every transacting account gets this much so standard tools work.
    funding_wei: int = 10**24
    state_interval_s: float = 5.0

    @property
    def rpc_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @classmethod
    def from_env(cls) -> "NodeConfig":
        return cls(
            chain_id=int(os.environ.get("CITYPOINTS_CHAIN_ID", cls.chain_id)),
            port=int(os.environ.get("CITYPOINTS_RPC_PORT", cls.port)),
        )
