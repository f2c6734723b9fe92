"""`citypoints bench gas`: gas of issuance and of the value flows, measured on a fresh node by the gas tests
(tests/contracts/test_gas.py, tests/contracts/value/test_value_gas.py), beside a plain OpenZeppelin ERC-1155
batch with a dedup map measured in the same run."""
from __future__ import annotations

import json
import subprocess
import sys

from ledger_node import paths
from scripts.benchmarks import table, update_section

TESTS = ["tests/contracts/test_gas.py", "tests/contracts/value/test_value_gas.py"]


def run() -> dict:
    out = paths.ROOT / "build" / "gas"
    for f in ("issuance.json", "value.json"):
        (out / f).unlink(missing_ok=True)
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS], cwd=paths.ROOT,
                   check=True, stdout=subprocess.DEVNULL)
    issuance = json.loads((out / "issuance.json").read_text())
    value = json.loads((out / "value.json").read_text())
    plain = issuance["plainOpenZeppelinExistingHolders"]["gasPerItem"]
    existing = issuance["existingHolders"]["gasPerItem"]
    return {
        "issue_gas_per_item_existing": existing,
        "issue_gas_per_item_new": issuance["newHolders"]["gasPerItem"],
        "issue_slots_per_item_existing": issuance["existingHolders"].get("slotsWrittenPerItem"),
        "issue_gas_per_item_plain_oz": plain,
        "issue_ratio_to_plain_oz": round(existing / plain, 3),
        "redeem_one_scheme_gas": value["redeemOneScheme"],
        "redeem_four_schemes_gas": value["redeemFourSchemes"],
        "refund_partial_gas": value["refundPartial"],
        "exchange_gas": value["exchange"],
    }


def write_benchmarks(f: dict) -> None:
    update_section("gas", "Gas per issued item in a 200-item `issueBatch`, and per value flow "
                          "(`citypoints bench gas`).\n\n" + table([
        ("issueBatch, existing holders, gas/item", f"{f['issue_gas_per_item_existing']:,}",
         f"floor 35,000; plain OZ ERC-1155 + dedup map in the same run: {f['issue_gas_per_item_plain_oz']:,} "
         f"(ratio {f['issue_ratio_to_plain_oz']})"),
        ("issueBatch, new holders, gas/item", f"{f['issue_gas_per_item_new']:,}", "one residency check each"),
        ("storage slots written per issued item (existing)", str(f["issue_slots_per_item_existing"]),
         "ref flag + packed balance word"),
        ("redeem, one scheme", f"{f['redeem_one_scheme_gas']:,}", "per transaction"),
        ("redeem, four schemes", f"{f['redeem_four_schemes_gas']:,}", "per transaction"),
        ("refund, partial", f"{f['refund_partial_gas']:,}", "per transaction"),
        ("exchange", f"{f['exchange_gas']:,}", "per transaction"),
    ]))
