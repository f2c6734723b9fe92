"""A relayer's batch of redemptions (Redemption.redeemMany): each consent redeemed as `redeem` would, one that
`redeem` refuses skipped with its error and nothing of it changed, the others redeemed; and what a redemption costs
in a batch (build/gas/value_batch.json for `citypoints bench gas`)."""
from __future__ import annotations

import json

import pytest
from eth_account import Account
from web3.exceptions import ContractCustomError

from ledger_node import paths
from ledger_node.deploy.system import call
from ledger_node.revert import decode_revert

from ..conftest import OTHER_SCHEME, SCHEME
from ..helpers import ref, send
from .conftest import mint_points, parts_of

EXTRA = (3, 4)  # two more schemes, as the single four-scheme redemption of test_value_gas

BATCH_GAS = 1_500_000  # the relayer's gas a redemption (settings.redeem_gas)


def _batch(value, consents):
    return value.redemption.functions.redeemMany([
        ((c["resident"], c["merchant"], c["credits"], [tuple(p) for p in c["parts"]], c["orderRef"], c["nonce"],
          c["deadline"]), c["signature"]) for c in consents])


def _skipped(value, receipt) -> dict:
    return {e["args"]["resident"]: decode_revert(e["args"]["reason"])
            for e in value.redemption.events.RedemptionSkipped().process_receipt(receipt)}


def _merchants(w3, value, n: int) -> list:
    """`n` more registered merchants."""
    merchants = [Account.create() for _ in range(n)]
    value.city.govern(w3, [call(value.city.membership, "registerMerchant", m.address) for m in merchants])
    return merchants


def test_redeemMany_redeemsEachConsent_skipsTheOnesRedeemWouldRefuse_andChangesNothingOfThem(w3, value):
    city, residents = value.city, value.city.residents
    merchants = [city.merchant, *_merchants(w3, value, 2)]
    good = [value.consent(w3, r, 10, parts=[(SCHEME, 1, 10)], merchant=merchants[i % 3])
            for i, r in enumerate(residents[:5])]
    forged = value.consent(w3, residents[5], 10, parts=[(SCHEME, 1, 10)], signer=Account.create())
    too_much = value.consent(w3, residents[6], 10, parts=[(SCHEME, 10**6, 10)])
    batch = [good[0], good[1], forged, good[2], too_much, good[3], good[4]]
    before = {r.address: value.balances(r) for r in residents}
    receipt = send(w3, city.relayer, _batch(value, batch), gas=BATCH_GAS * len(batch))
    redeemed = value.redemption.events.Redeemed().process_receipt(receipt)
    assert [e["args"]["resident"] for e in redeemed] == [c["resident"] for c in good]  # in order, each once
    assert all(parts_of(e) == [(SCHEME, 1, 10)] for e in redeemed)
    skipped = _skipped(value, receipt)
    assert skipped[forged["resident"]][0] == "ResidentSignatureInvalid"
    assert skipped[too_much["resident"]][0] in ("PointsLedgerInsufficientBalance", "ERC1155InsufficientBalance")
    for c in (forged, too_much):  # nothing of a skipped consent happened: its points, its nonce
        assert value.balances(c["resident"]) == before[c["resident"]]
        assert not value.redemption.functions.nonceUsed(c["resident"], c["nonce"]).call()
    for c in good:
        assert value.balances(c["resident"])[0] == before[c["resident"]][0] - 1
    # the skipped one, signed properly now, is redeemed as usual
    again = value.consent(w3, residents[5], 10, parts=[(SCHEME, 1, 10)], nonce=forged["nonce"])
    assert len(value.redemption.events.Redeemed().process_receipt(send(w3, city.relayer, value.redeem_fn(again)))) == 1


def test_redeemMany_byAMerchant_takesItsOwnConsentsOnly(w3, value):
    """A merchant may batch its own consents; a batch naming another merchant is the caller's mistake: it fails
    whole, nothing redeemed."""
    city, residents = value.city, value.city.residents
    (other,) = _merchants(w3, value, 1)
    own = [value.consent(w3, r, 10, parts=[(SCHEME, 1, 10)]) for r in residents[:2]]
    receipt = send(w3, city.merchant, _batch(value, own), gas=2 * BATCH_GAS)
    assert len(value.redemption.events.Redeemed().process_receipt(receipt)) == 2
    foreign = value.consent(w3, residents[1], 10, parts=[(SCHEME, 1, 10)], merchant=other)
    mixed = [value.consent(w3, residents[0], 10, parts=[(SCHEME, 1, 10)]), foreign]
    with pytest.raises(ContractCustomError) as e:
        _batch(value, mixed).call({"from": city.merchant.address, "gas": 2 * BATCH_GAS})
    assert decode_revert(e.value.data) == ("RedemptionNotSubmitter", (city.merchant.address, other.address))


def test_redeemMany_refusesAnEmptyOrOversizedBatch(w3, value):
    city = value.city
    for batch in ([], [value.consent(w3, city.residents[0], 10, parts=[(SCHEME, 1, 10)])] * 201):
        with pytest.raises(ContractCustomError) as e:
            _batch(value, batch).call({"from": city.relayer.address, "gas": 300_000_000})
        assert decode_revert(e.value.data) == ("RedemptionInvalidBatch", (len(batch),))


def test_redeemMany_gasPerRedemption_isMeasured(w3, value):
    """A relayer's batch as the API sends it: distinct residents, merchants taking turns, one volunteer point each
    (the same plan as `citypoints bench gas`'s one-scheme redemption)."""
    city, residents = value.city, value.city.residents
    merchants = [city.merchant, *_merchants(w3, value, 3)]
    warm = [value.consent(w3, r, 10, parts=[(SCHEME, 1, 10)], merchant=merchants[i % 4])
            for i, r in enumerate(residents)]
    send(w3, city.relayer, _batch(value, warm), gas=BATCH_GAS * len(warm))  # the merchants' positions exist
    batch = [value.consent(w3, r, 10, parts=[(SCHEME, 1, 10)], merchant=merchants[i % 4])
             for i, r in enumerate(residents)]
    receipt = send(w3, city.relayer, _batch(value, batch), gas=BATCH_GAS * len(batch))
    assert len(value.redemption.events.Redeemed().process_receipt(receipt)) == len(batch)
    single = send(w3, city.relayer, value.redeem_fn(value.consent(w3, residents[0], 10, parts=[(SCHEME, 1, 10)])))
    figures = {"batchSize": len(batch), "merchants": len(merchants),
               "redeemOneSchemeInBatchPerRedemption": receipt["gasUsed"] // len(batch),
               "redeemOneSchemeAlone": single["gasUsed"]}
    _write_figures(figures)
    assert figures["redeemOneSchemeInBatchPerRedemption"] < figures["redeemOneSchemeAlone"]


def test_redeemMany_fourSchemes_gasPerRedemption_isMeasured(w3, value):
    """Four-scheme plans (a point of each of four schemes, the traffic part leaving change) in a batch as the API's
    relayer sends it, beside the same plan alone."""
    city, residents = value.city, value.city.residents
    city.govern(w3, [call(city.ledger, "addScheme", s, 10**9, 10**6) for s in EXTRA]
                + [call(value.rates, "setInitialRate", s, 1_000_000 * s) for s in EXTRA])
    for i, r in enumerate(residents):
        for s in EXTRA:
            mint_points(w3, city, s, r.address, 100, 1_000_000 * s, ref(f"four-{s}-{i}"))
    merchants = [city.merchant, *_merchants(w3, value, 3)]
    plan = [(SCHEME, 1, 10), (OTHER_SCHEME, 3, 99), *((s, 1, s) for s in EXTRA)]

    def consents():
        return [value.consent(w3, r, sum(p[2] for p in plan), parts=plan, merchant=merchants[i % 4])
                for i, r in enumerate(residents)]
    send(w3, city.relayer, _batch(value, consents()), gas=BATCH_GAS * len(residents))  # positions and change exist
    batch = consents()
    receipt = send(w3, city.relayer, _batch(value, batch), gas=BATCH_GAS * len(batch))
    assert all(len(parts_of(e)) == 4 for e in value.redemption.events.Redeemed().process_receipt(receipt))
    single = send(w3, city.relayer, value.redeem_fn(consents()[0]))
    figures = {"redeemFourSchemesInBatchPerRedemption": receipt["gasUsed"] // len(batch),
               "redeemFourSchemesAlone": single["gasUsed"]}
    _write_figures(figures)
    assert figures["redeemFourSchemesInBatchPerRedemption"] < figures["redeemFourSchemesAlone"]


def _write_figures(figures: dict) -> None:
    """Add `figures` to build/gas/value_batch.json (`citypoints bench gas` removes it before its run)."""
    out = paths.ROOT / "build" / "gas" / "value_batch.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    kept = json.loads(out.read_text()) if out.exists() else {}
    out.write_text(json.dumps({**kept, **figures}, indent=2))
    print("\ngas in a batch:", json.dumps(figures))
