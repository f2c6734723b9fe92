"""`citypoints`: the one console command. Each subcommand has --help."""
from __future__ import annotations

import json
import os
import sys
from typing import Optional

import typer
from rich.console import Console

from exchange_api.cli import index_cmd, merchant_app, residents_app, serve_cmd
from issuer_sdk.cli import issue_command
from scripts import bench_node
from scripts.bench_issuance import bench_issuance_command
from ledger_node.audit.cli import app as audit_app
from ledger_node.consortium.cli import app as consortium_app
from ledger_node.settlement.cli import app as settle_app

app = typer.Typer(help="CityPoints: a city's reward points on a permissioned ledger.", no_args_is_help=True,
                  add_completion=False)
node_app = typer.Typer(help="Run the embedded chain node under var/chain/.", no_args_is_help=True)
app.add_typer(node_app, name="node")
bench_app = typer.Typer(help="Measure a part; print figures (--json too) and update BENCHMARKS.md.",
                        no_args_is_help=True)
app.add_typer(bench_app, name="bench")
bench_app.command("node", help="The embedded node: bare engine vs the durable gateway, issuance at 1,000,000 "
                               "items, restart time.")(bench_node.command)
bench_app.command("issuance", help="issue_many and single issues through the SDK, beside pre-signed issueBatch "
                                   "sent by raw JSON-RPC; and a CSV through the generic adapter (a mapping file) "
                                   "into issue_many.")(bench_issuance_command)
app.command("serve", help="Serve the HTTP API and the wallet page on http://127.0.0.1:8000.")(serve_cmd)
app.command("index", help="Follow the chain into the API's tables; --rebuild starts from zero.")(index_cmd)
app.add_typer(merchant_app, name="merchant")
app.add_typer(residents_app, name="residents")
app.command("issue", help="Issue points from a program's export (CSV or JSON lines) by its mapping file "
                          "(--adapter FILE SOURCE); --dry-run shows what would be issued; resumable.")(issue_command)
app.add_typer(audit_app, name="audit")
app.add_typer(consortium_app, name="consortium",
              help="Generate and keep in sync a Hyperledger Besu QBFT network for the consortium.")
from ledger_node.governance.cli import app as gov_app; app.add_typer(gov_app, name="gov")  # noqa: E402,E702
app.add_typer(settle_app, name="settle")
console = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 1):
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


@node_app.command("start")
def node_start(accept_replay: bool = typer.Option(
        False, "--accept-replay", help="If the journal's replay rebuilds blocks with other hashes, keep that chain "
                                       "(nothing journaled is lost) and list the changed blocks in "
                                       "var/chain/replay-divergence-<time>.json.")):
    """Start the embedded node (succeeds if it already runs) and print its RPC URL."""
    from ledger_node.node import node_control
    from ledger_node.node.anvil import NodeError

    try:
        _, message = node_control.start(accept_replay=accept_replay)
    except NodeError as exc:
        _fail(str(exc))
    console.print(message)
    console.print(node_control.status().rpcUrl)


@node_app.command("stop")
def node_stop():
    """Stop the embedded node cleanly, saving its state."""
    from ledger_node.node import node_control
    from ledger_node.node.anvil import NodeError

    try:
        console.print(node_control.stop())
    except NodeError as exc:
        _fail(str(exc))


@node_app.command("status")
def node_status(as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """Show whether the node runs, its height, chain id and health. Exit 1 when not healthy."""
    from ledger_node.node import node_control

    st = node_control.status()
    if as_json:
        print(json.dumps(st.as_dict()))
    elif st.healthy:
        console.print(f"[green]healthy[/green] {st.rpcUrl} chain {st.chainId} height {st.height} pid {st.pid}")
    else:
        console.print(f"[red]{st.detail}[/red] {st.rpcUrl}")
    raise typer.Exit(0 if st.healthy else 1)


from ledger_node.node.node_commands import backup_cmd, repair_journal_cmd, restore_cmd  # noqa: E402

node_app.command("backup")(backup_cmd)
node_app.command("restore")(restore_cmd)
node_app.command("repair-journal")(repair_journal_cmd)


@app.command("compile")
def compile_cmd(force: bool = typer.Option(False, "--force", help="Recompile even if nothing changed.")):
    """Compile contracts/ into build/contracts/ (cached by source hash)."""
    from ledger_node.compiler import CompileError, compile_all

    try:
        artifacts = compile_all(force=force)
    except CompileError as exc:
        for p in exc.problems:
            err.print(f"[red]{p}[/red]")
        raise typer.Exit(1)
    console.print(f"{len(artifacts)} contracts in build/contracts/")


@app.command("deploy")
def deploy_cmd(fresh: bool = typer.Option(False, "--fresh", help="Deploy new contracts even if some exist."),
               rpc: str = typer.Option(None, "--rpc", help="JSON-RPC URL (default: the embedded node).")):
    """Deploy the contracts and write var/deployment.json; a no-op when they are already deployed."""
    from ledger_node.chain import TransactionFailed
    from ledger_node.compiler import CompileError
    from ledger_node.deploy.command import deploy

    try:
        result = deploy(rpc, fresh=fresh)
    except (CompileError, TransactionFailed, ConnectionError) as exc:
        _fail(str(exc))
    console.print(result.message)
    for name, address in result.deployment["contracts"].items():
        console.print(f"  {name:<14} {address}")


@app.command("demo")
def demo_cmd(residents: int = typer.Option(1000, help="How many demo residents."),
             merchants: int = typer.Option(20, help="How many demo merchants.")):
    """Create (or resume creating) the demo city and write var/demo.json. Never for production."""
    from scripts.demo import load_demo

    summary = load_demo(residents=residents, merchants=merchants, console=console)
    console.print(summary)


@app.command("demo-keys")
def demo_keys_cmd(names: Optional[list[str]] = typer.Argument(None, help="Demo account names (var/demo.json): "
                                                                        "members, issuers, shops; default the "
                                                                        "seven consortium members.")):
    """Keystores for demo accounts, so `citypoints gov|settle ... --as NAME` acts as them on the demo city; the
    password is CITYPOINTS_KEYSTORE_PASSWORD, else asked. Never for production."""
    from ledger_node.member_keys import PASSWORD_ENV, KeystoreError
    from scripts.demo import import_demo_keys

    password = os.environ.get(PASSWORD_ENV) or typer.prompt("keystore password", hide_input=True,
                                                            confirmation_prompt=True, err=True)
    try:
        done = import_demo_keys(list(names or []), password, console)
    except KeystoreError as exc:
        _fail(f"{exc.code}: {exc.message}")
    for d in done:
        console.print(f"{d['name']:<26} {d['address']}  {d['keystore']}" + ("" if d["created"] else " (kept)"))


@bench_app.command("gas")
def bench_gas(as_json: bool = typer.Option(False, "--json", help="Print one JSON object only.")):
    """Gas per issued item and per redemption, refund and exchange, beside a plain OpenZeppelin ERC-1155."""
    from scripts import bench_gas as bench

    figures = bench.run()
    bench.write_benchmarks(figures)
    if as_json:
        print(json.dumps(figures))
        return
    for key, value in figures.items():
        console.print(f"{key:<34} {value}")
    console.print("BENCHMARKS.md updated (section: gas)")


@bench_app.command("api")
def bench_api(as_json: bool = typer.Option(False, "--json", help="Print one JSON object only."),
              node: str = typer.Option("durable", "--node",
                                       help="durable: the embedded node `make up` runs; anvil: bare anvil."),
              runs: int = typer.Option(5, "--runs", min=1, max=20,
                                       help="Consecutive runs, each on a fresh node and city (the p99 floor holds "
                                            "in each).")):
    """Redemptions over HTTP with 50 concurrent merchants, balance reads, indexer lag, beside raw JSON-RPC."""
    from scripts import bench_api as bench

    bench.main(as_json, node, runs)


@bench_app.command("pos")
def bench_pos(as_json: bool = typer.Option(False, "--json", help="Print one JSON object only."),
              tills: int = typer.Option(10, "--tills", min=1, max=50, help="Tills selling side by side."),
              sales: int = typer.Option(10, "--sales", min=1, max=200, help="Sales per till.")):
    """A point-of-sale sale from the resident's approval to "paid" on the till's event stream, beside a raw redeem
    transaction's time to its receipt on the same node."""
    from scripts import bench_pos as bench

    figures = bench.main(tills, sales)
    bench.write_section(figures)
    print(json.dumps(figures) if as_json else json.dumps(figures, indent=2))


@bench_app.command("city")
def bench_city(as_json: bool = typer.Option(False, "--json", help="Print one JSON object only."),
               residents: int = typer.Option(50_000, "--residents", min=100, max=1_000_000,
                                             help="Residents registered in the district."),
               days: int = typer.Option(30, "--days", min=1, max=366, help="Days (rounds) of the district's life.")):
    """A district's month as a mixed workload: five programmes issuing through the SDK, 200 merchants redeeming and
    residents exchanging through the API, a rate change a week, daily period closes, an audit at the end; per
    operation throughput, p50/p99, errors and gas beside the raw node, and the chain's size and restart time."""
    from scripts import bench_city as bench

    figures = bench.main(residents, days, as_json)
    if as_json:
        print(json.dumps(figures))
        return
    bench.print_figures(figures, console)
    console.print("BENCHMARKS.md updated (section: city)")


@bench_app.command("flood")
def bench_flood(as_json: bool = typer.Option(False, "--json", help="Print one JSON object only.")):
    """Redemptions through the API at a fixed rate, with and without 50 clients flooding the node with eth_calls."""
    from scripts import bench_flood as bench

    bench.main(as_json)


@bench_app.command("audit")
def bench_audit(as_json: bool = typer.Option(False, "--json", help="Print one JSON object only."),
                events: int = typer.Option(200_000, "--events", min=1_000, max=10_000_000,
                                           help="Events on the bench chain (built once, cached). Below 200,000 (the "
                                                "floor's size) BENCHMARKS.md is left as it is: for trying a change."),
                rounds: int = typer.Option(5, "--rounds", min=1, max=20,
                                           help="Raw fetches and replays, interleaved; the best of each side is "
                                                "reported.")):
    """Replay of at least 200,000 events from the local node, beside the bare eth_getLogs fetch of them."""
    from scripts import bench_audit as bench

    bench.run(events, as_json=as_json, rounds=rounds)


def main():  # pragma: no cover - console entry point
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    os.umask(0o077)  # what any command creates (chain, journal, keys, store, demo accounts) is its owner's only
    sys.exit(app())


if __name__ == "__main__":
    main()
