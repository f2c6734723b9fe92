"""`citypoints consortium ...`: the Besu QBFT consortium network's files and allowlists.

The integrator mounts `app` as `citypoints consortium` (app.add_typer(app, name="consortium")).
Errors print `CODE: message` on stderr and exit 2; nothing is written on error.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from .admin_auth import DEFAULT_TTL_SECONDS, admin_token
from .errors import ConsortiumError

# The description, generator and permissions modules (yaml, eth_utils, httpx) are imported inside the commands:
# at the top they cost every `citypoints` start, even `--help`, ~250 ms.

app = typer.Typer(
    help="Hyperledger Besu QBFT consortium network: generate its files (init) and keep its "
    "allowlists equal to the Membership contract (sync-permissions).",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def _default_out() -> Path:
    try:
        from ledger_node import paths

        return paths.var_dir() / "consortium"
    except Exception:  # pragma: no cover - the package layout is someone else's; stay usable
        return Path("var") / "consortium"


def _default_deployment() -> Path:
    try:
        from ledger_node import paths

        return paths.deployment_file()
    except Exception:  # pragma: no cover
        return Path("var") / "deployment.json"


def _fail(exc: ConsortiumError) -> None:
    err_console.print(f"[red]{exc.code}[/red]: {exc.message}", soft_wrap=True)
    raise typer.Exit(2)


@app.command("init")
def init_cmd(
    description: Path = typer.Argument(..., help="The consortium description (YAML): members, hosts, ports. "
                                        "See ledger_node/consortium/example-consortium.yaml."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder (default: var/consortium/)."),
    keep_genesis: bool = typer.Option(False, "--keep-genesis",
                                      help="Keep an existing genesis.json and regenerate everything else "
                                           "(after adding a member or rotating a key on a running network)."),
    new_genesis: bool = typer.Option(False, "--new-genesis",
                                     help="Overwrite a differing genesis.json. Only for a network that has never started."),
) -> None:
    """Generate the network: a key per node, the QBFT genesis (extraData with the validators, zero base
    fee, allocations), a Besu config.toml per node, static-nodes.json, permissions_config.toml,
    docker-compose.yml, systemd units and RUNBOOK.md. Existing keys are kept. Refuses fewer than 4
    validators (QBFT tolerates f faults only with 3f+1 validators)."""
    from .description import load_description
    from .generate import generate_network

    out_dir = out or _default_out()
    if keep_genesis and new_genesis:
        _fail(ConsortiumError("CONSORTIUM_FIELD_INVALID", "--keep-genesis and --new-genesis exclude each other"))
    try:
        consortium = load_description(description)
        report = generate_network(consortium, out_dir, new_genesis=new_genesis, keep_genesis=keep_genesis)
    except ConsortiumError as exc:
        _fail(exc)
        return
    net = consortium.network
    console.print(f"[bold]{net.name}[/bold]: chain id {net.chain_id}, {len(consortium.validators)} validators "
                  f"(tolerates {consortium.fault_tolerance} faulty), Besu {net.besu_version}, EVM {net.evm_fork}")
    for name, address in report.validators.items():
        console.print(f"  validator {name:<22} {address}")
    for node in consortium.rpc_nodes:
        console.print(f"  rpc node  {node.name}")
    if report.keys_generated:
        console.print(f"keys generated: {', '.join(report.keys_generated)}")
    if report.keys_kept:
        console.print(f"keys kept: {', '.join(report.keys_kept)}")
    console.print(f"genesis.json: {report.genesis}")
    if report.stray_node_dirs:
        console.print(f"[yellow]not in the description any more (left in place):[/yellow] {', '.join(report.stray_node_dirs)}")
    console.print(f"wrote {out_dir}/ — read {out_dir}/RUNBOOK.md next; run sync-permissions after deploying the contracts")


@app.command("sync-permissions")
def sync_permissions_cmd(
    consortium_file: Optional[Path] = typer.Option(None, "--consortium", "-c",
                                                   help="Consortium description (default: <out>/consortium.yaml)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="The folder `init` wrote (default: var/consortium/)."),
    deployment: Optional[Path] = typer.Option(None, "--deployment",
                                              help="deployment.json giving the Membership address and rpcUrl "
                                                   "(default: var/deployment.json)."),
    membership: Optional[str] = typer.Option(None, "--membership", help="Membership contract address (overrides deployment.json)."),
    read_rpc: Optional[str] = typer.Option(None, "--read-rpc", help="JSON-RPC URL to read Membership from (overrides deployment.json rpcUrl)."),
    accounts_file: Optional[Path] = typer.Option(None, "--accounts-from",
                                                 help="Take the transacting accounts from this JSON list instead of "
                                                      "reading the Membership contract (offline use)."),
    rpc: Optional[List[str]] = typer.Option(None, "--rpc",
                                            help="A running Besu node's RPC URL exposing PERM to update live "
                                                 "(repeatable; http:// without a token)."),
    node: Optional[List[str]] = typer.Option(None, "--node",
                                             help="A node of this machine to update live through its admin "
                                                  "WebSocket RPC (ws://127.0.0.1:<admin_port>, JWT from "
                                                  "<out>/<node>/admin-jwt.key; repeatable)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report the changes without writing or pushing."),
) -> None:
    """Make permissions_config.toml's allowlists equal to the Membership contract's transactingAccounts()
    plus accounts.always_allowed (accounts) and the nodes of the description (enode URLs). Writes the
    file atomically and reports what was added and removed, or says nothing changed; with --rpc also
    updates running nodes (perm_addAccountsToAllowlist / perm_removeAccountsFromAllowlist, and the
    nodes equivalents)."""
    from .besu_config import ADMIN_HOST
    from .description import load_description
    from .generate import load_keys, require_initialised
    from .permissions import (PERMISSIONS_FILE, load_deployment, node_allowlist, push_live, read_transacting_accounts,
                              sync_permissions_file)

    out_dir = out or _default_out()
    try:
        require_initialised(out_dir)
        consortium = load_description(consortium_file or out_dir / "consortium.yaml")
        keys = load_keys(consortium, out_dir)
        if accounts_file is not None:
            try:
                accounts = json.loads(accounts_file.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise ConsortiumError("CONSORTIUM_FIELD_INVALID", f"{accounts_file}: {exc}") from None
            if not isinstance(accounts, list):
                raise ConsortiumError("CONSORTIUM_FIELD_INVALID", f"{accounts_file} must hold a JSON list of addresses")
            source = f"{accounts_file}"
        else:
            if membership is None or read_rpc is None:
                data = load_deployment(deployment or _default_deployment())
                membership = membership or (data.get("contracts") or {}).get("Membership")
                read_rpc = read_rpc or data.get("rpcUrl")
                if not membership or not read_rpc:
                    raise ConsortiumError("CONSORTIUM_DEPLOYMENT_INVALID",
                                          "deployment.json lacks contracts.Membership or rpcUrl; pass --membership/--read-rpc")
            accounts = read_transacting_accounts(read_rpc, membership)
            source = f"Membership {membership}.transactingAccounts() at {read_rpc}"
        accounts = list(accounts) + list(consortium.always_allowed)
        nodes = node_allowlist(consortium, keys)
        result = sync_permissions_file(out_dir / PERMISSIONS_FILE, accounts, nodes, dry_run=dry_run,
                                       source=source + " + consortium.yaml accounts.always_allowed")
        console.print(result.summary(), soft_wrap=True)
        targets = [(url, None) for url in rpc or []]
        by_name = {n.name: n for n in consortium.nodes}
        for name in node or []:
            if name not in by_name:
                raise ConsortiumError("CONSORTIUM_FIELD_INVALID", f"--node {name!r} is not a node of the description")
            targets.append((f"ws://{ADMIN_HOST}:{by_name[name].admin_port}", out_dir / name))
        for url, node_dir in targets:
            if dry_run:
                console.print(f"{url}: not pushed (dry run)")
                continue
            token = admin_token(node_dir) if node_dir is not None else None
            console.print(push_live(url, accounts, nodes, token=token).summary(), soft_wrap=True)
    except ConsortiumError as exc:
        _fail(exc)


@app.command("admin-token")
def admin_token_cmd(
    node_name: str = typer.Argument(..., help="The node whose admin RPC the token is for."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="The folder `init` wrote (default: var/consortium/)."),
    ttl: int = typer.Option(DEFAULT_TTL_SECONDS, "--ttl", help="Seconds the token stays valid (1-86400)."),
) -> None:
    """Print a short-lived JWT for the node's admin WebSocket RPC (ADMIN, DEBUG, PERM, QBFT, TXPOOL, MINER on
    ws://127.0.0.1:<admin_port>), signed with <out>/<node>/admin-jwt.key. Send it as `Authorization: Bearer`."""
    from .generate import require_initialised

    out_dir = out or _default_out()
    try:
        require_initialised(out_dir)
        typer.echo(admin_token(out_dir / node_name, ttl_seconds=ttl))
    except ConsortiumError as exc:
        _fail(exc)


@app.command("admin-call")
def admin_call_cmd(
    node_name: str = typer.Argument(..., help="The node of this machine to call."),
    method: str = typer.Argument(..., help="An ADMIN, DEBUG, PERM, QBFT, TXPOOL or MINER method, e.g. qbft_proposeValidatorVote."),
    params: str = typer.Argument("[]", help="The parameters as a JSON list."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="The folder `init` wrote (default: var/consortium/)."),
) -> None:
    """Call one method on the node's admin WebSocket RPC (ws://127.0.0.1:<admin_port>) with a fresh 5-minute JWT;
    prints the result as JSON."""
    from .besu_config import ADMIN_HOST
    from .description import load_description
    from .generate import require_initialised
    from .permissions import admin_rpc

    out_dir = out or _default_out()
    try:
        require_initialised(out_dir)
        consortium = load_description(out_dir / "consortium.yaml")
        by_name = {n.name: n for n in consortium.nodes}
        if node_name not in by_name:
            raise ConsortiumError("CONSORTIUM_FIELD_INVALID", f"{node_name!r} is not a node of the description")
        try:
            parsed = json.loads(params)
        except json.JSONDecodeError as exc:
            raise ConsortiumError("CONSORTIUM_FIELD_INVALID", f"params must be a JSON list: {exc}") from None
        if not isinstance(parsed, list):
            raise ConsortiumError("CONSORTIUM_FIELD_INVALID", "params must be a JSON list")
        url = f"ws://{ADMIN_HOST}:{by_name[node_name].admin_port}"
        typer.echo(json.dumps(admin_rpc(url, admin_token(out_dir / node_name), method, parsed)))
    except ConsortiumError as exc:
        _fail(exc)
