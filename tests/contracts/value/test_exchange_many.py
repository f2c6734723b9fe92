"""A relayer's batch of exchanges (Exchange.exchangeMany): each intent exchanged as `exchange` would, one that
`exchange` refuses skipped with its error and nothing of it changed, the others exchanged; and what an exchange costs
in a batch (build/gas/value_batch.json for `citypoints bench gas`)."""
from __future__ import annotations

import pytest
from eth_account import Account
from web3.exceptions import ContractCustomError

from ledger_node.revert import decode_revert

from ..conftest import OTHER_SCHEME, SCHEME
from ..helpers import send
from .test_redeem_many import BATCH_GAS, _write_figures


def _batch(value, intents):
    return value.exchange.functions.exchangeMany([
        (i["resident"], i["fromScheme"], i["toScheme"], i["points"], i["minReceived"], i["nonce"], i["deadline"],
         i["signature"]) for i in intents])


def test_exchangeMany_exchangesEachIntent_skipsTheOnesExchangeWouldRefuse_andChangesNothingOfThem(w3, value):
    city, residents = value.city, value.city.residents
    good = [value.intent(w3, r, SCHEME, OTHER_SCHEME, 50) for r in residents[:4]]
    forged = value.intent(w3, residents[4], SCHEME, OTHER_SCHEME, 50, signer=Account.create())
    too_many = value.intent(w3, residents[5], SCHEME, OTHER_SCHEME, 10**6)
    twice = dict(good[1])  # the same intent again in the batch: its nonce is spent by the first
    batch = [good[0], forged, good[1], too_many, twice, good[2], good[3]]
    before = {r.address: value.balances(r) for r in residents}
    receipt = send(w3, city.relayer, _batch(value, batch), gas=BATCH_GAS * len(batch))
    exchanged = value.exchange.events.Exchanged().process_receipt(receipt)
    assert [e["args"]["resident"] for e in exchanged] == [i["resident"] for i in good]  # in order, each once
    skipped = [(e["args"]["resident"], decode_revert(e["args"]["reason"])[0])
               for e in value.exchange.events.ExchangeSkipped().process_receipt(receipt)]
    assert skipped == [(forged["resident"], "ResidentSignatureInvalid"),
                       (too_many["resident"], "PointsLedgerInsufficientBalance"),
                       (twice["resident"], "ResidentNonceUsed")]
    for i in (forged, too_many):  # nothing of a skipped intent happened: its points, its nonce
        assert value.balances(i["resident"]) == before[i["resident"]]
        assert not value.exchange.functions.nonceUsed(i["resident"], i["nonce"]).call()
    for i in good:
        assert value.balances(i["resident"])[0] == before[i["resident"]][0] - 50


def test_exchangeMany_refusesAnEmptyBatch(w3, value):
    with pytest.raises(ContractCustomError) as e:
        _batch(value, []).call({"from": value.city.relayer.address})
    assert decode_revert(e.value.data) == ("ExchangeInvalidBatch", (0,))


def test_exchangeMany_gasPerExchange_isMeasured(w3, value):
    """A relayer's batch as the API sends it: distinct residents, each's next exchange of the pair that day (as
    `citypoints bench gas`'s exchangeAgain), beside the same exchange alone."""
    city, residents = value.city, value.city.residents
    warm = [value.intent(w3, r, SCHEME, OTHER_SCHEME, 50) for r in residents]
    send(w3, city.relayer, _batch(value, warm), gas=BATCH_GAS * len(warm))  # usage words and the pair's position
    batch = [value.intent(w3, r, SCHEME, OTHER_SCHEME, 50) for r in residents]
    receipt = send(w3, city.relayer, _batch(value, batch), gas=BATCH_GAS * len(batch))
    assert len(value.exchange.events.Exchanged().process_receipt(receipt)) == len(batch)
    single = send(w3, city.relayer, value.exchange_fn(value.intent(w3, residents[0], SCHEME, OTHER_SCHEME, 50)))
    figures = {"exchangeBatchSize": len(batch), "exchangeInBatchPerExchange": receipt["gasUsed"] // len(batch),
               "exchangeAlone": single["gasUsed"]}
    _write_figures(figures)
    assert figures["exchangeInBatchPerExchange"] < figures["exchangeAlone"]
