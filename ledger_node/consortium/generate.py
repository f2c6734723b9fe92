"""`citypoints consortium init`: write every file of the network from the consortium description.

Output folder (default var/consortium/):

    genesis.json  static-nodes.json  permissions_config.toml  docker-compose.yml  RUNBOOK.md
    consortium.yaml (a copy of the description the files came from)
    <node>/key (0600)  <node>/key.pub  <node>/address  <node>/config.toml
    <node>/admin-jwt.key (0600)  <node>/admin-jwt.pub   (the admin RPC's JWT key pair, admin_auth.py)
    systemd/besu-<node>.service

Existing node keys are kept (never overwritten). genesis.json is never silently changed: once a
network has started its genesis is fixed, so a differing genesis is refused unless the caller says
`new_genesis` (a network that has not started yet) or `keep_genesis` (regenerate everything else,
e.g. after adding a member or rotating a key, which then go through validator votes).
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from . import errors as E
from .admin_auth import ensure_admin_keypair
from .besu_config import render_node_config
from .description import Consortium
from .errors import ConsortiumError
from .genesis import build_genesis, sorted_validators
from .keys import KEY_FILE, NodeKey, ensure_node_key, generate_node_key, load_node_key, write_node_key
from .permissions import (
    PERMISSIONS_FILE,
    STATIC_NODES_FILE,
    node_allowlist,
    read_permissions,
    render_static_nodes,
    sync_permissions_file,
    write_atomic,
)
from .services import render_compose, render_systemd_unit, service_name

GENESIS_FILE = "genesis.json"
COMPOSE_FILE = "docker-compose.yml"
RUNBOOK_FILE = "RUNBOOK.md"
DESCRIPTION_COPY = "consortium.yaml"
GENESIS_EXISTS = "CONSORTIUM_GENESIS_EXISTS"


@dataclass
class InitReport:
    out_dir: Path
    keys_generated: list[str] = field(default_factory=list)
    keys_kept: list[str] = field(default_factory=list)
    genesis: str = "written"  # written | unchanged | kept
    stray_node_dirs: list[str] = field(default_factory=list)
    validators: dict[str, str] = field(default_factory=dict)  # node -> address
    files: list[str] = field(default_factory=list)


def load_keys(consortium: Consortium, out_dir: Path) -> dict[str, NodeKey]:
    return {n.name: load_node_key(Path(out_dir) / n.name) for n in consortium.nodes}


def generate_network(consortium: Consortium, out_dir: Path, *, new_genesis: bool = False,
                     keep_genesis: bool = False) -> InitReport:
    out_dir = Path(out_dir)
    report = InitReport(out_dir)

    # Keys first in memory: nothing is written until the genesis check below has passed.
    keys: dict[str, NodeKey] = {}
    for node in consortium.nodes:
        if (out_dir / node.name / KEY_FILE).exists():
            keys[node.name] = load_node_key(out_dir / node.name)
            report.keys_kept.append(node.name)
        else:
            keys[node.name] = generate_node_key()
            report.keys_generated.append(node.name)
    report.validators = {n.name: keys[n.name].address for n in consortium.validators}

    genesis = build_genesis(consortium, [keys[n.name].address for n in consortium.validators])
    genesis_text = json.dumps(genesis, indent=2) + "\n"
    genesis_path = out_dir / GENESIS_FILE
    write_genesis = True
    if genesis_path.exists():
        existing = genesis_path.read_text(encoding="utf-8")
        if existing == genesis_text:
            report.genesis, write_genesis = "unchanged", False
        elif keep_genesis:
            report.genesis, write_genesis = "kept", False
        elif not new_genesis:
            raise ConsortiumError(
                GENESIS_EXISTS,
                f"{genesis_path} exists and the description now gives a different genesis. A running network's "
                "genesis never changes: pass --keep-genesis to regenerate the other files (then add or remove "
                "validators by qbft_proposeValidatorVote, see RUNBOOK.md), or --new-genesis only if this "
                "network has never started.",
            )

    out_dir.mkdir(parents=True, exist_ok=True)
    for node in consortium.nodes:
        if node.name in report.keys_generated:
            write_node_key(out_dir / node.name, keys[node.name])
        else:
            ensure_node_key(out_dir / node.name)  # re-creates key.pub / address if deleted, fixes key mode
        ensure_admin_keypair(out_dir / node.name)  # never replaces an existing admin key
    if write_genesis:
        write_atomic(genesis_path, genesis_text)

    # Accounts: keep what sync-permissions last wrote, plus the always-allowed accounts.
    existing_accounts, _ = read_permissions(out_dir / PERMISSIONS_FILE)
    sync_permissions_file(
        out_dir / PERMISSIONS_FILE,
        list(existing_accounts) + list(consortium.always_allowed),
        node_allowlist(consortium, keys),
        source="consortium.yaml accounts.always_allowed (run sync-permissions after deployment)",
    )
    write_atomic(out_dir / STATIC_NODES_FILE, render_static_nodes(consortium, keys))
    for node in consortium.nodes:
        write_atomic(out_dir / node.name / "config.toml", render_node_config(consortium, node))
    write_atomic(out_dir / COMPOSE_FILE, render_compose(consortium))
    systemd_dir = out_dir / "systemd"
    for node in consortium.nodes:
        write_atomic(systemd_dir / f"{service_name(node)}.service", render_systemd_unit(consortium, node))
    write_atomic(out_dir / RUNBOOK_FILE, render_runbook(consortium, keys))
    if consortium.source is not None and consortium.source.resolve() != (out_dir / DESCRIPTION_COPY).resolve():
        shutil.copyfile(consortium.source, out_dir / DESCRIPTION_COPY)

    names = {n.name for n in consortium.nodes}
    report.stray_node_dirs = sorted(
        p.name for p in out_dir.iterdir() if p.is_dir() and (p / "key").exists() and p.name not in names
    )
    report.files = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if p.is_file() and "data" not in p.relative_to(out_dir).parts)
    return report


def render_runbook(consortium: Consortium, keys: dict[str, NodeKey]) -> str:
    net = consortium.network
    template = resources.files(__package__).joinpath("RUNBOOK.template.md").read_text(encoding="utf-8")
    first = consortium.validators[0]
    table = "\n".join(
        f"| {n.name} | {n.organisation} | {'validator' if n.validator else 'RPC node'} | "
        f"`{keys[n.name].address}` | {n.host}:{n.p2p_port} | {net.rpc_listen}:{n.rpc_port} | "
        f"127.0.0.1:{n.admin_port} |"
        for n in consortium.nodes
    )
    values = {
        "NETWORK": net.name,
        "CHAIN_ID": str(net.chain_id),
        "BLOCK_PERIOD": str(net.block_period_seconds),
        "REQUEST_TIMEOUT": str(net.request_timeout_seconds),
        "EPOCH_LENGTH": str(net.epoch_length),
        "GAS_LIMIT": f"{net.gas_limit} ({hex(net.gas_limit)})",
        "EVM_FORK": net.evm_fork,
        "GAS_LIMIT_INT": str(net.gas_limit),
        "BESU_VERSION": net.besu_version,
        "BESU_IMAGE": f"{net.besu_image}:{net.besu_version}",
        "INSTALL_DIR": net.install_dir,
        "N_VALIDATORS": str(len(consortium.validators)),
        "FAULT_TOLERANCE": str(consortium.fault_tolerance),
        "MAJORITY": str(len(consortium.validators) // 2 + 1),
        "NODE_TABLE": table,
        "FIRST_NODE": first.name,
        "FIRST_RPC": f"http://{'127.0.0.1' if net.rpc_listen == '0.0.0.0' else net.rpc_listen}:{first.rpc_port}",
        "DNS_NOTE": (
            "Hosts are DNS names, so config.toml sets the early-access option `Xdns-enabled=true`; "
            "Besu needs forward and reverse DNS for every node host."
            if consortium.uses_dns_names
            else "All hosts are IP addresses (no DNS support needed in enode URLs)."
        ),
    }
    for name, value in values.items():
        template = template.replace("{{" + name + "}}", value)
    return template


def validator_addresses_in_order(report: InitReport) -> list[str]:
    return sorted_validators(list(report.validators.values()))


def require_initialised(out_dir: Path) -> None:
    if not (Path(out_dir) / GENESIS_FILE).exists():
        raise ConsortiumError(E.NOT_INITIALISED, f"{out_dir} holds no consortium: run `citypoints consortium init` first")
