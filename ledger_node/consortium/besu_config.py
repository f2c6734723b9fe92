"""Per-node Besu configuration file (`<node>/config.toml`, started with `besu --config-file=config.toml`).

Every option written here must be in DOCUMENTED_OPTIONS, each with the Besu documentation page it
was checked against (besu-docs, docs/public-networks/reference/cli/options.md and
docs/private-networks/reference/cli/options.md, snapshot of 2026-03-11; Besu 26.x). Rendering
refuses any other name, and the tests check every written key against this list.

Paths in the file are relative to the node's folder: the systemd unit and the compose service both
start Besu with that folder as the working directory, so one file serves both.
"""
from __future__ import annotations

import json

from . import errors as E
from .admin_auth import ALGORITHM, PUBLIC_FILE
from .description import Consortium, NodeSpec
from .errors import ConsortiumError

_PUBLIC = "https://besu.hyperledger.org/public-networks/reference/cli/options#"
_PRIVATE = "https://besu.hyperledger.org/private-networks/reference/cli/options#"

DOCUMENTED_OPTIONS: dict[str, str] = {
    name: _PUBLIC + name
    for name in (
        "config-file",  # used on the command line by the unit / compose service
        "data-path",
        "genesis-file",
        "node-private-key-file",
        "identity",
        "logging",
        "sync-mode",
        "p2p-enabled",
        "p2p-host",
        "p2p-interface",
        "p2p-port",
        "discovery-enabled",
        "static-nodes-file",
        "max-peers",
        "rpc-http-enabled",
        "rpc-http-host",
        "rpc-http-port",
        "rpc-http-api",
        "rpc-http-authentication-enabled",
        "rpc-ws-enabled",
        "rpc-ws-host",
        "rpc-ws-port",
        "rpc-ws-api",
        "rpc-ws-authentication-enabled",
        "rpc-ws-authentication-jwt-public-key-file",
        "rpc-ws-authentication-jwt-algorithm",
        "graphql-http-enabled",
        "engine-rpc-enabled",
        "host-allowlist",
        "min-gas-price",
        "min-priority-fee",
        "tx-pool-min-gas-price",
        "revert-reason-enabled",
    )
}
DOCUMENTED_OPTIONS.update(
    {
        name: _PRIVATE + name
        for name in (
            "permissions-nodes-config-file-enabled",
            "permissions-nodes-config-file",
            "permissions-accounts-config-file-enabled",
            "permissions-accounts-config-file",
        )
    }
)
# Early-access option for host names in enode URLs (permissioned networks only).
DOCUMENTED_OPTIONS["Xdns-enabled"] = (
    "https://besu.hyperledger.org/public-networks/concepts/node-keys#domain-name-support"
)

# Two JSON-RPC endpoints (Besu serves one HTTP RPC, so the second is its WebSocket RPC, which has its own
# host, port, API list and authentication options; the IPC socket is early access (`Xrpc-ipc-*`) and has no
# authentication, and the Engine API port serves only ENGINE/ETH):
# - public: HTTP on network.rpc_listen, ETH, NET, WEB3 only; rpc-http-cors-origins is left unset, so Besu's
#   default "none" holds and no browser page may call it;
# - admin: WebSocket on 127.0.0.1 only, ADMIN, DEBUG, PERM, QBFT, TXPOOL, MINER, every connection
#   authenticated by an ES256 JWT checked against the node's admin-jwt.pub (admin_auth.py).
# GraphQL and the Engine API stay off (pinned, so a default change cannot open them).
PUBLIC_APIS = ["ETH", "NET", "WEB3"]
ADMIN_APIS = ["ADMIN", "DEBUG", "PERM", "QBFT", "TXPOOL", "MINER"]
ADMIN_HOST = "127.0.0.1"


def node_options(consortium: Consortium, node: NodeSpec) -> dict:
    """The options for one node, as an ordered mapping (option name -> value)."""
    net = consortium.network
    allow_hosts = list(dict.fromkeys(["localhost", "127.0.0.1", node.host]))
    options: dict = {
        "identity": node.name,
        "data-path": "data",
        "genesis-file": "../genesis.json",
        "node-private-key-file": "key",
        "logging": "INFO",
        # QBFT networks sync FULL (docs: BFT networks must use FULL or FAST; FULL is the default
        # for a genesis-file network, pinned here so a default change cannot move it).
        "sync-mode": "FULL",
        "p2p-enabled": True,
        "p2p-host": node.host,
        "p2p-interface": "0.0.0.0",
        "p2p-port": node.p2p_port,
        # A closed consortium: peers come from static-nodes.json, and only allowlisted ones.
        "discovery-enabled": False,
        "static-nodes-file": "../static-nodes.json",
        "max-peers": max(25, 2 * len(consortium.nodes)),
        "rpc-http-enabled": True,
        "rpc-http-host": net.rpc_listen,
        "rpc-http-port": node.rpc_port,
        "rpc-http-api": PUBLIC_APIS,
        "rpc-http-authentication-enabled": False,
        "rpc-ws-enabled": True,
        "rpc-ws-host": ADMIN_HOST,
        "rpc-ws-port": node.admin_port,
        "rpc-ws-api": ADMIN_APIS,
        "rpc-ws-authentication-enabled": True,
        "rpc-ws-authentication-jwt-public-key-file": PUBLIC_FILE,
        "rpc-ws-authentication-jwt-algorithm": ALGORITHM,
        "graphql-http-enabled": False,
        "engine-rpc-enabled": False,
        "host-allowlist": allow_hosts,
        # Free gas: every node must accept zero-priced transactions (docs: a node with a higher
        # minimum silently drops them).
        "min-gas-price": 0,
        "min-priority-fee": 0,
        "tx-pool-min-gas-price": 0,
        "revert-reason-enabled": True,
        "permissions-nodes-config-file-enabled": True,
        "permissions-nodes-config-file": "../permissions_config.toml",
        "permissions-accounts-config-file-enabled": True,
        "permissions-accounts-config-file": "../permissions_config.toml",
    }
    if consortium.uses_dns_names:
        options["Xdns-enabled"] = True
    return options


def render_node_config(consortium: Consortium, node: NodeSpec) -> str:
    options = node_options(consortium, node)
    lines = [
        f"# Besu configuration of {node.name} ({node.organisation}), "
        f"{'validator' if node.validator else 'RPC node'} of the {consortium.network.name} QBFT network.",
        "# Generated by `citypoints consortium init`; edit consortium.yaml and re-run instead of editing here.",
        "# Start from this folder: besu --config-file=config.toml (paths below are relative to it).",
        "",
    ]
    lines += [f"{name}={toml_value(value)}" for name, value in checked(options).items()]
    return "\n".join(lines) + "\n"


def checked(options: dict) -> dict:
    for name in options:
        if name not in DOCUMENTED_OPTIONS:
            raise ConsortiumError(E.OPTION_UNDOCUMENTED, f"Besu option {name!r} is not in the documented list")
    return options


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string is a JSON string for this character set
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")
