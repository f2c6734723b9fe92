"""`citypoints bench gas`: gas of issuance and of the value flows, measured on a fresh node by the gas tests
(tests/contracts/test_gas.py, tests/contracts/value/test_value_gas.py), beside a plain OpenZeppelin ERC-1155
batch with a dedup map measured in the same run. The redemptions pay signed plans (ledger_node.redemption_plan, issue
27's exact change); each value flow is shown beside its figure before exact change (BENCHMARKS.md of 2026-12-05,
on-chain planning, rounding against the resident) and issue 27's floor: a redemption at most 10% dearer."""
from __future__ import annotations

import json
import subprocess
import sys

from ledger_node import paths
from scripts.benchmarks import table, update_section

TESTS = ["tests/contracts/test_gas.py", "tests/contracts/value/test_value_gas.py",
         "tests/contracts/value/test_identity_trail.py"]
# gas per transaction before exact change (issue 27), measured by the same tests on 2026-12-05
BEFORE_EXACT_CHANGE = {"redeem_one_scheme_gas": 198_311, "redeem_four_schemes_gas": 441_803,
                       "refund_partial_gas": 106_336, "exchange_gas": 190_240}
REDEMPTION_FLOOR = 1.10  # issue 27: an exact plan may cost a redemption at most 10% more gas


def run() -> dict:
    out = paths.ROOT / "build" / "gas"
    for f in ("issuance.json", "value.json", "trail.json"):
        (out / f).unlink(missing_ok=True)
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS], cwd=paths.ROOT,
                   check=True, stdout=subprocess.DEVNULL)
    issuance = json.loads((out / "issuance.json").read_text())
    value = json.loads((out / "value.json").read_text())
    trail = json.loads((out / "trail.json").read_text())
    plain = issuance["plainOpenZeppelinExistingHolders"]["gasPerItem"]
    existing = issuance["existingHolders"]["gasPerItem"]
    return {
        "issue_gas_per_item_existing": existing,
        "issue_gas_per_item_new": issuance["newHolders"]["gasPerItem"],
        "issue_slots_per_item_existing": issuance["existingHolders"].get("slotsWrittenPerItem"),
        "issue_new_slots_per_item_existing": issuance["existingHolders"].get("slotsNewPerItem"),
        "issue_gas_per_item_plain_oz": plain,
        "issue_ratio_to_plain_oz": round(existing / plain, 3),
        "issue_gas_per_item_with_reason": issuance["withReasonExistingHolders"]["gasPerItem"],
        "issue_gas_per_item_citing_rules": issuance["citingRulesExistingHolders"]["gasPerItem"],
        "issue_citation_gas_per_call": issuance["citingRulesExistingHolders"]["perCall"],
        "redeem_one_scheme_gas": value["redeemOneScheme"],
        "redeem_one_scheme_leaving_change_gas": value["redeemOneSchemeLeavingChange"],
        "redeem_four_schemes_gas": value["redeemFourSchemes"],
        "refund_partial_gas": value["refundPartial"],
        "exchange_gas": value["exchange"],
        "ledger_slots_written": value.get("ledgerSlotsWritten"),
        "trail_gas_per_entry": trail["gasPerEntry"],
        "trail_batch": trail["recordBatch"],
    }


def _beside(gas: int, key: str, floor: bool = False) -> str:
    """`gas` beside the figure before exact change (and issue 27's floor for a redemption)."""
    before = BEFORE_EXACT_CHANGE[key]
    text = f"before exact change: {before:,} ({(gas - before) / before:+.1%})"
    if floor:
        met = gas <= before * REDEMPTION_FLOOR
        text += f"; floor +10%: {'met' if met else 'NOT met'}"
    return text


VALUE_FLOWS_NOTE = """\
Exact change (issue 27): the redemptions pay a signed plan (`ledger_node.redemption_plan`) and got cheaper, since the
chain no longer plans (reading every scheme's status, rate and balance); a plan leaving change costs about 3,200 gas
more than an exact one, the `ChangeUpdated` event, and writes no more storage (2 ledger slots each: the change shares
the holder's slot with the balance). Refund and exchange cost more than before it: the value moved comes back from
the ledger (`restoreValue`, `spend`, `mintValue` return points and change), the exchange reads the change it starts
from, and `Refunded`/`Exchanged` carry each part's or side's value and change. The SchemeRegistry (issue 24) is off
these paths: an eligibility-only scheme has no rate, which Redemption and Exchange already refuse."""


def write_benchmarks(f: dict) -> None:
    update_section("gas", "Gas per issued item in a 1,000-item `issueBatch` of sequential numbers (the SDK's sequence "
                          "book), and per value flow (`citypoints bench gas`).\n\n" + table([
        ("issueBatch, existing holders, gas/item", f"{f['issue_gas_per_item_existing']:,}",
         f"floor 20,000 (issue 25); plain OZ ERC-1155 + dedup map (a slot a ref) in the same run: "
         f"{f['issue_gas_per_item_plain_oz']:,} (ratio {f['issue_ratio_to_plain_oz']})"),
        ("issueBatch, new holders, gas/item", f"{f['issue_gas_per_item_new']:,}",
         "floor 45,000 (issue 25); one residency check each"),
        ("storage slots per issued item (existing holders): new / written", f"{f['issue_new_slots_per_item_existing']}"
         f" / {f['issue_slots_per_item_existing']}", "floor <= 0.05 new (issue 25: the state's growth); written: the "
         "holder's balance word, and a dedup word per 224 numbers"),
        ("issueBatchCitingRules, existing holders, gas/item", f"{f['issue_gas_per_item_citing_rules']:,}",
         f"issueBatchWithReason in the same run: {f['issue_gas_per_item_with_reason']:,}; the citation (a registry "
         f"read and IssuanceRulesCited) costs {f['issue_citation_gas_per_call']:,} gas a call"),
        ("redeem, one scheme, exact plan", f"{f['redeem_one_scheme_gas']:,}",
         _beside(f["redeem_one_scheme_gas"], "redeem_one_scheme_gas", floor=True)),
        ("redeem, one scheme, leaving change", f"{f['redeem_one_scheme_leaving_change_gas']:,}",
         _beside(f["redeem_one_scheme_leaving_change_gas"], "redeem_one_scheme_gas", floor=True)),
        ("redeem, four schemes", f"{f['redeem_four_schemes_gas']:,}",
         _beside(f["redeem_four_schemes_gas"], "redeem_four_schemes_gas", floor=True)),
        ("refund, partial", f"{f['refund_partial_gas']:,}", _beside(f["refund_partial_gas"], "refund_partial_gas")),
        ("exchange", f"{f['exchange_gas']:,}", _beside(f["exchange_gas"], "exchange_gas")),
        (f"IdentityTrail.record, {f['trail_batch']}-entry batch, gas/entry", f"{f['trail_gas_per_entry']:,}",
         f"issue 23's limit 10,000: {'met' if f['trail_gas_per_entry'] <= 10_000 else 'NOT met'}; one event each, "
         "the counter written once"),
    ]) + "\n\n" + VALUE_FLOWS_NOTE)
