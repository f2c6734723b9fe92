"""The auditor's published reports (ledger_node/audit: `citypoints audit --attest` writes a signed report, the demo
keeps it as var/audit/report-N.json), read so a resident can check their own balance lines against the Merkle root
attested on chain (the wallet's "check my balance", GET /v1/residents/{address}/balance_proof).

The API only finds and serves: the report of an attestation is the file in `settings.audit_dir` whose `reportHash`
is the attested one; its lines and proofs are served as written (a report written with `--no-proofs` gets them
from the same tree the auditor builds, ledger_node/merkle.py). The page checks them itself against the root on
chain, so a wrong file or a tampered proof shows there, not here.

A report is large (every balance line with its proof), so each is read once and indexed by account; the index is
kept for the report files as they are (a changed or new file is read again).
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

from ledger_node.merkle import BalanceTree

MAX_REPORT_BYTES = 512 * 1024 * 1024   # a report larger than this is not read by the API
KEPT = 2                                # reports indexed in memory at once (the latest attested, the one before)


class ReportIndex:
    def __init__(self):
        self._lock = threading.Lock()
        self._kept: dict[str, tuple[tuple, dict]] = {}   # reportHash -> (the file's (path, size, mtime), index)

    def lines(self, folder: Path, report_hash: str, account: str) -> dict | None:
        """{"report": the report's summary, "lines": [{scheme, balance, proof}]} of `account` in the report whose
        hash is `report_hash`, or None when no file in `folder` is that report. Blocking: run it in a thread."""
        index = self._index(Path(folder), report_hash.lower())
        if index is None:
            return None
        return {"report": index["report"], "lines": index["accounts"].get(account.lower(), [])}

    def _index(self, folder: Path, report_hash: str) -> dict | None:
        with self._lock:
            kept = self._kept.get(report_hash)
            if kept is not None and _stamp(Path(kept[0][0])) == kept[0]:
                return kept[1]
            for path in _candidates(folder):
                stamp = _stamp(path)
                if stamp is None or stamp[1] > MAX_REPORT_BYTES:
                    continue
                try:
                    report = json.loads(path.read_bytes())
                except (OSError, ValueError):
                    continue
                if not isinstance(report, dict) or str(report.get("reportHash", "")).lower() != report_hash:
                    continue
                index = _build(report)
                if len(self._kept) >= KEPT:
                    self._kept.pop(next(iter(self._kept)))
                self._kept[report_hash] = (stamp, index)
                return index
            return None


def _candidates(folder: Path) -> list[Path]:
    """The folder's report files, newest block first (report-N.json, N the last block the report covers)."""
    try:
        files = [p for p in folder.glob("*.json") if p.is_file()]
    except OSError:
        return []

    def block(p: Path) -> int:
        digits = p.stem.rpartition("-")[2]
        return int(digits) if digits.isdigit() else -1
    return sorted(files, key=lambda p: (block(p), p.name), reverse=True)


def _stamp(path: Path) -> tuple | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (str(path), st.st_size, st.st_mtime_ns)


def _build(report: dict) -> dict:
    merkle = report.get("merkle") or {}
    lines = merkle.get("lines") or []
    tree = None
    if lines and any("proof" not in line for line in lines):
        tree = BalanceTree([(x["account"], int(x["scheme"]), int(x["balance"])) for x in lines])
    accounts: dict[str, list] = {}
    for x in lines:
        proof = x.get("proof") if tree is None else tree.proof(x["account"], int(x["scheme"]))
        accounts.setdefault(str(x["account"]).lower(), []).append(
            {"scheme": int(x["scheme"]), "balance": int(x["balance"]), "proof": list(proof)})
    summary = {"reportHash": report.get("reportHash"), "merkleRoot": merkle.get("root"),
               "leafEncoding": merkle.get("leafEncoding"), "fromBlock": report.get("fromBlock"),
               "toBlock": report.get("toBlock"), "toBlockTime": report.get("toBlockTime"),
               "status": report.get("status")}
    return {"report": summary, "accounts": accounts}
