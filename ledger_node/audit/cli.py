"""`citypoints audit`: replay the chain over JSON-RPC, check every rule, report, sign and attest.

    citypoints audit [--rpc URL] [--from-block N] [--to-block N] [--resume report.json] [--strict] ...
    citypoints audit proof --report R --account A [--scheme S]
    citypoints audit verify --report R [--rpc URL]

Exit codes of the audit run: 0 nothing wrong (suspicious-pattern findings are printed as warnings),
1 problems (a mismatch between the rebuilt state and the chain, or a rule violation, or a rule that could
not be verified), 3 findings only but `--strict`, 4 the audit could not run (node unreachable, bad input).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

app = typer.Typer(help="The auditor's replay: rebuild the ledger from JSON-RPC alone and prove it kept the rules.",
                  invoke_without_command=True, add_completion=False)
EXIT_PROBLEMS, EXIT_STRICT, EXIT_CANNOT_RUN = 1, 3, 4
# Rich lays a non-terminal output out at 80 columns, cutting table cells ("0xcb06284e8213dbda09bc3a6d…"). A pipe
# or a file gets lines as long as their values instead (nothing is cut or folded); a terminal keeps its width.
PIPE_WIDTH = 100_000


def console_for(stream) -> Console:
    """A rich console on `stream` (sys.stdout or sys.stderr): the terminal's width, or whole values when piped."""
    tty = stream.isatty() if hasattr(stream, "isatty") else False
    return Console(file=stream, width=None if tty else PIPE_WIDTH)


@app.callback()
def run(
    ctx: typer.Context,
    rpc: Optional[str] = typer.Option(None, "--rpc", help="JSON-RPC URL (default: the deployment's rpcUrl)."),
    from_block: int = typer.Option(0, "--from-block", help="First block to replay (default genesis)."),
    to_block: Optional[int] = typer.Option(None, "--to-block", help="Last block (default: the chain head)."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue from a previous report's state."),
    deployment: Optional[Path] = typer.Option(None, "--deployment", help="deployment.json with the addresses."),
    contract: list[str] = typer.Option([], "--contract", help="Extra or overriding address: Name=0x..."),
    out: Optional[Path] = typer.Option(None, "--out", help="Report path (default var/audit/report-<toBlock>.json)."),
    html: Optional[Path] = typer.Option(None, "--html", help="Also write the summary as HTML."),
    settings: Optional[Path] = typer.Option(None, "--settings", help="Pattern thresholds (JSON or TOML)."),
    threshold: list[str] = typer.Option([], "--threshold", help="Override one threshold: name=value."),
    strict: bool = typer.Option(False, "--strict", help="Fail (exit 3) on suspicious-pattern findings too."),
    auditor_key: Optional[Path] = typer.Option(None, "--auditor-key", help="File with the auditor's private key "
                                               "(or env CITYPOINTS_AUDITOR_KEY); signs the report."),
    attest: bool = typer.Option(False, "--attest", help="Record the report hash and Merkle root on chain."),
    no_proofs: bool = typer.Option(False, "--no-proofs", help="Leave proofs out of the report (see `proof`)."),
    ref_sample: int = typer.Option(2000, "--ref-sample", help="Words of the ledger's dedup window re-checked with refState at the end."),
    as_json: bool = typer.Option(False, "--json", help="Print a one-line JSON result instead of the summary."),
    rules: list[Path] = typer.Option([], "--rules", help="A directory of published rules documents (*.json) to "
                                     "check cited issuance against, beside the shipped programmes' (repeatable)."),
):
    """Audit the chain (the default command)."""
    if ctx.invoked_subcommand is not None:
        return
    console, err = console_for(sys.stdout), console_for(sys.stderr)
    from ledger_node.audit import AuditError
    from ledger_node.audit import report as rep
    from ledger_node.audit.patterns import Thresholds
    from ledger_node.audit.run import AuditOptions, audit

    try:
        dep = _deployment(deployment)
        contracts = dict(dep.get("contracts", {}))
        for item in contract:
            name, _, addr = item.partition("=")
            contracts[name] = addr
        rpc_url = rpc or dep.get("rpcUrl") or _default_rpc()
        thresholds = Thresholds.load(settings, **dict(_parse_threshold(t) for t in threshold))
        previous = rep.read(resume) if resume else None
        result = audit(AuditOptions(rpc_url, contracts, from_block, to_block, previous, thresholds, ref_sample,
                                    proofs=not no_proofs, rules_dirs=tuple(rules)))
        report = rep.sign(result.report, _key(auditor_key))
        if attest:
            report = _attest(rpc_url, report, auditor_key)
        path = rep.write(report, out or _default_out(report["toBlock"]))
        if html:
            rep.write_html(report, html)
    except (AuditError, ValueError, OSError) as exc:
        err.print(f"[red]audit could not run:[/red] {exc}")
        raise typer.Exit(EXIT_CANNOT_RUN)
    if as_json:
        console.print_json(json.dumps({"status": report["status"], "ok": report["ok"], "report": str(path),
                                       "reportHash": report["reportHash"], "merkleRoot": report["merkle"]["root"],
                                       "problems": len(report["problems"]), "findings": len(report["findings"]),
                                       "stats": report["stats"]}))
    else:
        rep.print_summary(report, console)
        console.print(f"Report written to {path}")
    if report["problems"]:
        raise typer.Exit(EXIT_PROBLEMS)
    if strict and report["findings"]:
        raise typer.Exit(EXIT_STRICT)


@app.command()
def proof(
    report_path: Path = typer.Option(..., "--report", help="An audit report."),
    account: str = typer.Option(..., "--account", help="The resident's address."),
    scheme: Optional[int] = typer.Option(None, "--scheme", help="Only this scheme."),
):
    """Print a resident's balance lines with their Merkle proofs (and check them against the report's root)."""
    from ledger_node.audit import AuditError
    from ledger_node.audit import report as rep
    from ledger_node.merkle import BalanceTree, verify

    console, err = console_for(sys.stdout), console_for(sys.stderr)
    try:
        report = rep.read(report_path)
    except AuditError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(EXIT_CANNOT_RUN)
    lines = report["merkle"]["lines"]
    tree = None
    if lines and "proof" not in lines[0]:
        tree = BalanceTree([(x["account"], x["scheme"], x["balance"]) for x in lines])
    mine = [x for x in lines if x["account"].lower() == account.lower() and scheme in (None, x["scheme"])]
    if not mine:
        err.print(f"no balance line for {account} in the report (balances of zero have no line)")
        raise typer.Exit(1)
    root = report["merkle"]["root"]
    out = []
    for line in mine:
        p = line.get("proof") or tree.proof(line["account"], line["scheme"])
        out.append({"account": line["account"], "scheme": line["scheme"], "balance": line["balance"], "proof": p,
                    "root": root, "verifies": verify(root, p, line["account"], line["scheme"], line["balance"])})
    console.print_json(json.dumps({"leafEncoding": report["merkle"]["leafEncoding"], "root": root,
                                   "toBlock": report["toBlock"], "lines": out}))
    if not all(x["verifies"] for x in out):
        raise typer.Exit(1)


@app.command()
def verify(
    report_path: Path = typer.Option(..., "--report", help="An audit report."),
    rpc: Optional[str] = typer.Option(None, "--rpc", help="Also check the on-chain attestation at this node."),
):
    """Check a report's hash and auditor signature, and (with --rpc) that it is attested on chain."""
    from ledger_node.audit import AuditError
    from ledger_node.audit import attest as att
    from ledger_node.audit import report as rep

    console, err = console_for(sys.stdout), console_for(sys.stderr)
    try:
        report = rep.read(report_path)
        ok, message = rep.verify_signature(report)
        console.print(("[green]ok[/green] " if ok else "[red]bad[/red] ") + message)
        if ok and rpc:
            address = report["contracts"].get("AuditAttestations")
            a = att.attested(rpc, address, report) if address else None
            if a is None or a["merkleRoot"] != report["merkle"]["root"]:
                ok = False
                console.print("[red]bad[/red] not attested on chain with this Merkle root")
            else:
                console.print(f"[green]ok[/green] attested as id {a['id']} by {a['auditor']}")
    except (AuditError, OSError, ValueError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(EXIT_CANNOT_RUN)
    if not ok:
        raise typer.Exit(1)


# ----------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------

def _deployment(path: Path | None) -> dict:
    from ledger_node import paths

    p = path or paths.deployment_file()
    if not p.exists():
        if path:
            raise ValueError(f"no deployment file at {p}")
        return {}
    return json.loads(p.read_text())


def _default_rpc() -> str:
    from ledger_node.config import NodeConfig

    return NodeConfig.from_env().rpc_url


def _default_out(to_block: int) -> Path:
    from ledger_node import paths

    return paths.var_dir() / "audit" / f"report-{to_block}.json"


def _key(path: Path | None) -> str | None:
    if path:
        return path.read_text().strip()
    return os.environ.get("CITYPOINTS_AUDITOR_KEY") or None


def _attest(rpc_url: str, report: dict, auditor_key: Path | None) -> dict:
    from ledger_node.audit import AuditError
    from ledger_node.audit import attest as att

    key = _key(auditor_key)
    address = report["contracts"].get("AuditAttestations")
    if not key or not address:
        raise AuditError("--attest needs the auditor's key and an AuditAttestations address in the deployment")
    if report["problems"]:
        raise AuditError("a failed audit is not attested; fix or explain the problems first")
    report["attestation"] = att.attest(rpc_url, address, key, report)
    return report


def _parse_threshold(item: str) -> tuple[str, float | int]:
    name, _, value = item.partition("=")
    if not value:
        raise ValueError(f"--threshold wants name=value, got {item!r}")
    return name.strip(), float(value) if "." in value else int(value)
