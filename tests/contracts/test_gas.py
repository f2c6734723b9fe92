"""Gas per issued item in a 1,000-item issueBatch of sequential numbers (as the SDK's sequence book gives them), for
new and existing holders (issue 25's floors: 20,000 and 45,000), the storage slots it writes and creates, and what
citing a published rules version (issueBatchCitingRules) adds to a batch with reason codes.

Writes build/gas/issuance.json for BENCHMARKS.md.
"""
from __future__ import annotations

import json

from eth_account import Account

from ledger_node import chain, paths

from ledger_node.deploy.system import call

from .conftest import SCHEME
from ledger_node.issuance_refs import sequenced_ref

from .helpers import identity, ref

BATCH = 1000
EXISTING_HOLDER_BUDGET = 20_000
NEW_HOLDER_BUDGET = 45_000


def _slots(w3, tx_hash, contract: str) -> tuple[int, int] | tuple[None, None]:
    """Storage slots of `contract` the transaction wrote, and of those how many were empty before (the state's growth),
    from the prestateTracer diff, if the node can tell."""
    try:
        result = w3.provider.make_request("debug_traceTransaction", [tx_hash.hex() if hasattr(tx_hash, "hex") else tx_hash,
                                                                     {"tracer": "prestateTracer",
                                                                      "tracerConfig": {"diffMode": True}}])["result"]
    except Exception:  # noqa: BLE001 - optional insight only
        return None, None
    pre = {k.lower(): v for k, v in result.get("pre", {}).items()}.get(contract.lower(), {}).get("storage", {})
    post = {k.lower(): v for k, v in result.get("post", {}).items()}.get(contract.lower(), {}).get("storage", {})
    return len(post), sum(1 for slot in post if int(pre.get(slot, "0x0"), 16) == 0)


def test_issueBatch_gasPerItemWithinBudget(w3, env):
    residents = [Account.create().address for _ in range(BATCH)]
    chain.transact(w3, env.onboarding, env.membership.functions.registerResidents(
        residents, [identity(f"gas-{r}") for r in residents]))
    ledger = env.ledger

    lanes = {}

    def refs_of(label: str) -> list[bytes]:
        """A lane a label, numbered from 0: a sequence book's numbers."""
        lane = lanes.setdefault(label, 100 + len(lanes))
        return [sequenced_ref(lane, i, ref(f"{label}-{i}")) for i in range(BATCH)]

    def batch(label: str):
        return chain.transact(w3, env.issuer, ledger.functions.issueBatch(SCHEME, residents, [5] * BATCH,
                                                                          refs_of(label)))

    new = batch("new")
    existing = batch("existing")
    retry = batch("existing")  # every number used: all skipped
    # the same batch with reason codes, then citing rules v1: one registry read and one event a call, not an item
    registry = env.contracts["SchemeRegistry"]
    env.govern(w3, [call(registry, "describeScheme", SCHEME, ("志愿服务积分", "Volunteer points", "分", "points",
                                                              "Volunteer office", b"\x2e\x7d\x32", 1)),
                    call(registry, "publishRules", SCHEME, b"\x01" * 32, "https://rules.example/1/v1.json")])
    with_reason = chain.transact(w3, env.issuer, ledger.functions.issueBatchWithReason(
        SCHEME, residents, [5] * BATCH, refs_of("reason"), [1] * BATCH))
    cited = chain.transact(w3, env.issuer, ledger.functions.issueBatchCitingRules(
        SCHEME, 1, residents, [5] * BATCH, refs_of("cited"), [1] * BATCH))
    assert ledger.functions.balanceOf(residents[7], SCHEME).call() == 20  # new, existing, with reason, cited

    plain = chain.bind(w3, "PlainERC1155Issuer", chain.deploy_contract(w3, env.operator, "PlainERC1155Issuer"))
    chain.transact(w3, env.issuer, plain.functions.issueBatch(SCHEME, residents, [5] * BATCH,
                                                              [ref(f"plain-new-{i}") for i in range(BATCH)]))
    plain_existing = chain.transact(w3, env.issuer, plain.functions.issueBatch(
        SCHEME, residents, [5] * BATCH, [ref(f"plain-existing-{i}") for i in range(BATCH)]))

    figures = {
        "batchSize": BATCH,
        "plainOpenZeppelinExistingHolders": {"gasUsed": plain_existing["gasUsed"],
                                             "gasPerItem": plain_existing["gasUsed"] // BATCH},
        "newHolders": {"gasUsed": new["gasUsed"], "gasPerItem": new["gasUsed"] // BATCH,
                       **dict(zip(("slotsWritten", "slotsNew"), _slots(w3, new["transactionHash"], ledger.address)))},
        "existingHolders": {"gasUsed": existing["gasUsed"], "gasPerItem": existing["gasUsed"] // BATCH,
                            **dict(zip(("slotsWritten", "slotsNew"),
                                       _slots(w3, existing["transactionHash"], ledger.address)))},
        "allSkippedRetry": {"gasUsed": retry["gasUsed"], "gasPerItem": retry["gasUsed"] // BATCH},
        "withReasonExistingHolders": {"gasUsed": with_reason["gasUsed"], "gasPerItem": with_reason["gasUsed"] // BATCH},
        "citingRulesExistingHolders": {"gasUsed": cited["gasUsed"], "gasPerItem": cited["gasUsed"] // BATCH,
                                       "perCall": cited["gasUsed"] - with_reason["gasUsed"]},
        "budgetExistingHolders": EXISTING_HOLDER_BUDGET,
        "budgetNewHolders": NEW_HOLDER_BUDGET,
    }
    for key in ("newHolders", "existingHolders"):
        for slots, per_item in (("slotsWritten", "slotsWrittenPerItem"), ("slotsNew", "slotsNewPerItem")):
            n = figures[key][slots]
            figures[key][per_item] = round(n / BATCH, 4) if n is not None else None
    out = paths.ROOT / "build" / "gas"
    out.mkdir(parents=True, exist_ok=True)
    (out / "issuance.json").write_text(json.dumps(figures, indent=2))
    print("\nissueBatch gas per item:", json.dumps(figures, indent=2))
    assert figures["existingHolders"]["gasPerItem"] <= EXISTING_HOLDER_BUDGET, figures
    assert figures["newHolders"]["gasPerItem"] <= NEW_HOLDER_BUDGET, figures
    if figures["existingHolders"]["slotsNew"] is not None:  # 1,000 sequential numbers: 5 dedup words, nothing else
        assert figures["existingHolders"]["slotsNewPerItem"] <= 0.05, figures
    # the citation is per call (a registry read and an event, ~10,500 gas): about 50 gas an item of a 200-item batch
    assert 0 < figures["citingRulesExistingHolders"]["perCall"] < 100 * BATCH, figures
