"""`citypoints bench gas`: gas of issuance and of the value flows, measured on a fresh node by the gas tests
(tests/contracts/test_gas.py, tests/contracts/value/test_value_gas.py), beside a plain OpenZeppelin ERC-1155
batch with a dedup map measured in the same run. The redemptions pay signed plans (ledger_node.redemption_plan, issue
27's exact change); each value flow is shown beside issue 25's floor, its figure before issue 25 (the same tests on
the contracts of 2026-12-05) and, for a redemption, issue 27's floor (at most 10% dearer than before exact change)."""
from __future__ import annotations

import json
import subprocess
import sys

from ledger_node import paths
from scripts.benchmarks import table, update_section

TESTS = ["tests/contracts/test_gas.py", "tests/contracts/value/test_value_gas.py",
         "tests/contracts/value/test_redeem_many.py", "tests/contracts/value/test_exchange_many.py",
         "tests/contracts/value/test_identity_trail.py"]
# gas per transaction before exact change (issue 27), measured by the same tests on 2026-12-05
BEFORE_EXACT_CHANGE = {"redeem_one_scheme_gas": 198_311, "redeem_four_schemes_gas": 441_803,
                       "refund_partial_gas": 106_336, "exchange_gas": 190_240}
REDEMPTION_FLOOR = 1.10  # issue 27: an exact plan may cost a redemption at most 10% more gas
# gas per transaction before issue 25 (cheaper value flows): BENCHMARKS.md of 2026-12-05 22:25 UTC; the second
# exchange measured by the same test on the contracts of that day (main at 1be36d5)
BEFORE_ISSUE_25 = {"redeem_one_scheme_gas": 180_002, "redeem_one_scheme_leaving_change_gas": 183_198,
                   "redeem_four_schemes_gas": 426_838, "refund_partial_gas": 111_538, "exchange_gas": 201_233,
                   "exchange_again_gas": 167_216}
ISSUE_25_FLOORS = {"redeem_one_scheme_gas": 100_000, "redeem_four_schemes_gas": 200_000, "exchange_gas": 100_000}


def run() -> dict:
    out = paths.ROOT / "build" / "gas"
    for f in ("issuance.json", "value.json", "value_batch.json", "trail.json"):
        (out / f).unlink(missing_ok=True)
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS], cwd=paths.ROOT,
                   check=True, stdout=subprocess.DEVNULL)
    issuance = json.loads((out / "issuance.json").read_text())
    value = json.loads((out / "value.json").read_text())
    batch = json.loads((out / "value_batch.json").read_text())
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
        "redeem_in_batch_gas": batch["redeemOneSchemeInBatchPerRedemption"],
        "redeem_batch_size": batch["batchSize"], "redeem_batch_merchants": batch["merchants"],
        "redeem_four_schemes_in_batch_gas": batch["redeemFourSchemesInBatchPerRedemption"],
        "redeem_four_schemes_alone_beside_batch_gas": batch["redeemFourSchemesAlone"],
        "refund_partial_gas": value["refundPartial"],
        "exchange_gas": value["exchange"],
        "exchange_again_gas": value["exchangeAgain"],
        "exchange_in_batch_gas": batch["exchangeInBatchPerExchange"],
        "exchange_batch_size": batch["exchangeBatchSize"],
        "exchange_alone_beside_batch_gas": batch["exchangeAlone"],
        "ledger_slots_written": value.get("ledgerSlotsWritten"),
        "flow_slots_written": value.get("flowSlotsWritten"),
        "trail_gas_per_entry": trail["gasPerEntry"],
        "trail_batch": trail["recordBatch"],
    }


def _beside(f: dict, key: str, floor_key: str | None = None) -> str:
    """`f[key]` beside issue 25's floor (for `floor_key`'s figure, default `key`), its figure before issue 25, and
    for a redemption issue 27's floor (before exact change + 10%)."""
    gas, parts = f[key], []
    floor = ISSUE_25_FLOORS.get(floor_key or key)
    if floor:
        parts.append(f"issue 25's floor {floor:,}: {'met' if gas <= floor else 'NOT met'}")
    before = BEFORE_ISSUE_25[key]
    parts.append(f"before issue 25: {before:,} ({(gas - before) / before:+.1%})")
    if key.startswith("redeem"):
        exact = BEFORE_EXACT_CHANGE["redeem_four_schemes_gas" if "four" in key else "redeem_one_scheme_gas"]
        parts.append(f"issue 27's floor {round(exact * REDEMPTION_FLOOR):,}: "
                     f"{'met' if gas <= exact * REDEMPTION_FLOOR else 'NOT met'}")
    return "; ".join(parts)


VALUE_FLOWS_NOTE = """\
Issue 25 (contracts/README.md, "Value flows: storage and gas"): a redemption's record is one word that also spends
its nonce (was a nonce flag and a two-word record), no `NonceUsed` (the intents' own events name the nonce),
signatures are checked ECDSA first (no read of the resident's code), Clearing keeps no nets (the auditor and the
indexer sum them from its events) and a merchant's positions four schemes to a word, Exchange reads each rate once.
A redemption writes one slot of Redemption and one of Clearing, four schemes too. Alone, a one-scheme redemption's
reads, writes, cold contracts and events come to 103,100 gas before any execution (the table there), so its floor
is met only in a batch: the API's relayer sends the redemptions that reach it together as one `redeemMany`, which
pays the base cost, the cold contracts and the shared reads once (`bench api` prints the gas a redemption of its own
run). An exchange's nonce is a number spent in the resident's daily-usage word (no slot of its own: 21,900 gas less
on every exchange; before: 183,992 and 149,795); alone its floor is not met (the first writes two new slots, the
usage word and the pair's period position, and even the next needs two ledger sides, two rates and five events),
so it too is met in a batch: the relayer sends the exchanges that reach it together as one `exchangeMany`."""


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
        ("redeem, one scheme, exact plan", f"{f['redeem_one_scheme_gas']:,}", _beside(f, "redeem_one_scheme_gas")),
        ("redeem, one scheme, leaving change", f"{f['redeem_one_scheme_leaving_change_gas']:,}",
         _beside(f, "redeem_one_scheme_leaving_change_gas", "redeem_one_scheme_gas")),
        ("redeem, four schemes", f"{f['redeem_four_schemes_gas']:,}", _beside(f, "redeem_four_schemes_gas")),
        (f"redeem, one scheme, in a batch (`redeemMany`, {f['redeem_batch_size']} consents, "
         f"{f['redeem_batch_merchants']} merchants), per redemption", f"{f['redeem_in_batch_gas']:,}",
         f"issue 25's floor 100,000: {'met' if f['redeem_in_batch_gas'] <= 100_000 else 'NOT met'} in a batch; "
         "the API's relayer batches the redemptions that reach it together (`bench api`: its gas a redemption)"),
        (f"redeem, four schemes, in a batch ({f['redeem_batch_size']} consents), per redemption",
         f"{f['redeem_four_schemes_in_batch_gas']:,}",
         f"issue 25's floor 200,000: {'met' if f['redeem_four_schemes_in_batch_gas'] <= 200_000 else 'NOT met'} in a "
         f"batch; the same plan alone: {f['redeem_four_schemes_alone_beside_batch_gas']:,}"),
        ("refund, partial", f"{f['refund_partial_gas']:,}", _beside(f, "refund_partial_gas")),
        ("exchange (the resident's first of the pair)", f"{f['exchange_gas']:,}", _beside(f, "exchange_gas")),
        ("exchange (its next of the pair that day)", f"{f['exchange_again_gas']:,}",
         _beside(f, "exchange_again_gas", "exchange_gas")),
        (f"exchange, in a batch (`exchangeMany`, {f['exchange_batch_size']} residents' next of the pair), per "
         "exchange", f"{f['exchange_in_batch_gas']:,}",
         f"issue 25's floor 100,000: {'met' if f['exchange_in_batch_gas'] <= 100_000 else 'NOT met'} in a batch; the "
         f"same exchange alone: {f['exchange_alone_beside_batch_gas']:,}; the API's relayer batches the exchanges "
         "that reach it together"),
        (f"IdentityTrail.record, {f['trail_batch']}-entry batch, gas/entry", f"{f['trail_gas_per_entry']:,}",
         f"issue 23's limit 10,000: {'met' if f['trail_gas_per_entry'] <= 10_000 else 'NOT met'}; one event each, "
         "the counter written once"),
    ]) + "\n\n" + VALUE_FLOWS_NOTE)
