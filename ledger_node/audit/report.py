"""The report: canonical JSON, its hash, the auditor's signature, and a readable summary (terminal or HTML).

reportHash = keccak256 of the report's canonical JSON (keys sorted, no spaces, UTF-8) without the fields
`reportHash`, `signature` and `attestation`. The signature is EIP-191 personal_sign over the 32 bytes of
reportHash, so any wallet or `cast wallet verify` checks it.
"""
from __future__ import annotations

import json
from pathlib import Path

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak
from rich.console import Console
from rich.table import Table

from ledger_node.audit import AuditError

UNHASHED = ("reportHash", "signature", "attestation")


def canonical(report: dict) -> bytes:
    body = {k: v for k, v in report.items() if k not in UNHASHED}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def report_hash(report: dict) -> str:
    return "0x" + keccak(canonical(report)).hex()


def sign(report: dict, private_key: str | None) -> dict:
    """Stamp `auditor`, `reportHash` and (with a key) `signature` on the report; returns it."""
    if private_key:
        account = Account.from_key(private_key)
        report["auditor"] = account.address
    else:
        report.setdefault("auditor", None)
    report["reportHash"] = report_hash(report)
    if private_key:
        signed = account.sign_message(encode_defunct(primitive=bytes.fromhex(report["reportHash"][2:])))
        report["signature"] = "0x" + bytes(signed.signature).hex()
    return report


def verify_signature(report: dict) -> tuple[bool, str]:
    """(ok, message): the hash matches the content and the signature is the named auditor's."""
    expected = report_hash(report)
    if report.get("reportHash") != expected:
        return False, f"reportHash {report.get('reportHash')} does not match the content ({expected})"
    if not report.get("signature"):
        return False, "the report is not signed"
    signer = Account.recover_message(encode_defunct(primitive=bytes.fromhex(expected[2:])),
                                     signature=report["signature"])
    if signer.lower() != str(report.get("auditor", "")).lower():
        return False, f"signed by {signer}, not by the named auditor {report.get('auditor')}"
    return True, f"signed by auditor {signer}"


def write(report: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, sort_keys=False) + "\n")
    return path


def read(path: str | Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise AuditError(f"cannot read report {path}: {exc}") from exc


def print_summary(report: dict, console: Console, *, max_items: int = 20) -> None:
    status = report["status"]
    colour = {"clean": "green", "warnings": "yellow", "failed": "red"}[status]
    console.print(f"[bold]CityPoints audit[/bold] chain {report['chainId']}, blocks {report['fromBlock']}.."
                  f"{report['toBlock']} ({report['toBlockHash'][:18]}...): [bold {colour}]{status.upper()}[/]")
    c = report["counts"]
    counts = Table(title="Counts", show_header=False)
    for label, key in (("events replayed", "events"), ("residents", "residents"), ("merchants", "merchants"),
                       ("schemes", "schemes"), ("balance lines", "balanceLines"),
                       ("state comparisons (eth_call)", "comparisons"), ("signatures checked", "intentsChecked"),
                       ("problems", "problems"), ("findings", "findings")):
        counts.add_row(label, f"{c.get(key, 0):,}")
    console.print(counts)
    schemes = Table(title="Per scheme")
    cols = ("scheme", "nameEn", "kind", "status", "rate", "totalSupply", "totalChange", "liabilityCredits", "holders", "issued",
            "revoked", "redeemed", "refunded", "exchangedOut", "exchangedIn")
    for col in cols:
        schemes.add_column(col, justify="right")
    for s in report["schemes"]:
        schemes.add_row(*[f"{s.get(k, 0):,}" if isinstance(s.get(k, 0), int) else str(s.get(k) or "") for k in cols])
    console.print(schemes)
    if report.get("issuers"):
        t = Table(title="Issuer accounts and the proposals that allowed them")
        for col in ("scheme", "account", "since block", "proposal", "description"):
            t.add_column(col)
        for i in report["issuers"]:
            t.add_row(str(i["scheme"]), i["account"], str(i["block"]), str(i["proposal"] or "none"),
                      i["description"] or "")
        console.print(t)
    holdings = report.get("holdings")
    if holdings and holdings["count"]:
        t = Table(title=f"Points held for {holdings['count']:,} people who have not joined (unclaimed)")
        for col in ("scheme", "points held"):
            t.add_column(col, justify="right")
        for row in holdings["totals"]:
            t.add_row(str(row["scheme"]), f"{row['points']:,}")
        console.print(t)
    trail = report.get("identityTrail")
    if trail and trail["objections"]:
        t = Table(title=f"Identity trail: {trail['entries']:,} uses of personal data; residents' objections "
                        f"({len(trail['objections'])})", style="yellow")
        for col in ("entry", "resident", "actor", "purpose", "objected in block"):
            t.add_column(col)
        for o in trail["objections"][:max_items]:
            entry = o.get("entry") or {}
            t.add_row(str(o["entryId"]), o["resident"], entry.get("actor", "?"), entry.get("purpose", "?"),
                      str(o["block"]))
        console.print(t)
    if report["problems"]:
        t = Table(title=f"Problems ({len(report['problems'])}): the audit fails", style="red")
        for col in ("kind", "code", "block", "message"):
            t.add_column(col)
        for p in report["problems"][:max_items]:
            t.add_row(p["kind"], p["code"], str(p["block"]), p["message"])
        console.print(t)
    if report["findings"]:
        t = Table(title=f"Findings ({len(report['findings'])}): suspicious patterns", style="yellow")
        t.add_column("pattern")
        t.add_column("message")
        for f in report["findings"][:max_items]:
            t.add_row(f["pattern"], f["message"])
        console.print(t)
    console.print(f"Merkle root of balances: [bold]{report['merkle']['root']}[/bold]")
    console.print(f"Report hash: {report.get('reportHash')}  auditor: {report.get('auditor')}")
    if report.get("attestation"):
        a = report["attestation"]
        console.print(f"Attested on chain: id {a['id']} in tx {a['tx']} (block {a['block']})")


def write_html(report: dict, path: str | Path) -> Path:
    console = Console(record=True, width=140, file=open("/dev/null", "w"))
    print_summary(report, console, max_items=200)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(console.export_html(inline_styles=True))
    return path
