"""A chain keeps the contracts it was deployed with: the events of the layouts before issue 25 (a NonceUsed before
each intent's own event, nets in Clearing's position events) still decode and are still checked."""
from __future__ import annotations

from eth_abi import encode
from web3 import Web3

from ledger_node.audit.events import Event, EventTable
from ledger_node.audit.replay import Replayer

RESIDENT, MERCHANT = "0x" + "22" * 20, "0x" + "33" * 20
NONCE = "0x" + "44" * 32


def _event(name: str, contract: str, tx: str, index: int, **args) -> Event:
    return Event(name, contract, "0x" + "ab" * 20, 7, tx, 0, index, args, 1_700_000_000)


def _codes(replayer: Replayer) -> list[str]:
    return [p.code for p in replayer.problems]


def test_formerNonceUsed_isTheNonceItsIntentSpends_andAReuseIsStillCaught():
    replayer = Replayer({"Redemption": "0x" + "ab" * 20})
    order = {"resident": RESIDENT, "schemes": [], "nonce": NONCE}
    replayer.process([_event("NonceUsed", "Redemption", "0x01", 0, resident=RESIDENT, nonce=NONCE),
                      _event("PreferredOrderSet", "Redemption", "0x01", 1, **order)])
    replayer.finish(7)
    assert _codes(replayer) == []  # the former NonceUsed and the intent's event spend the nonce once
    replayer.process([_event("PreferredOrderSet", "Redemption", "0x02", 0, **order)])  # today's layout: no NonceUsed
    replayer.finish(7)
    assert _codes(replayer) == ["nonce-reused"]


def test_formerNonceUsed_withoutItsIntent_isUnexplained():
    replayer = Replayer({"Exchange": "0x" + "ab" * 20})
    replayer.process([_event("NonceUsed", "Exchange", "0x01", 0, resident=RESIDENT, nonce=NONCE)])
    replayer.finish(7)
    assert _codes(replayer) == ["unexplained-nonce"]


def test_formerMerchantPositionLayout_isDecodedAndItsNetsChecked():
    clearing = "0x" + "cd" * 20
    topic = Web3.keccak(text="MerchantPositionChanged(uint256,uint256,address,int256,int256,int256,int256)")
    log = {"address": clearing, "topics": ["0x" + topic.hex().removeprefix("0x"), "0x" + (1).to_bytes(32, "big").hex(),
                                           "0x" + (2).to_bytes(32, "big").hex(), "0x" + "00" * 12 + MERCHANT[2:]],
           "data": "0x" + encode(["int256"] * 4, [30, 30, 31, -30]).hex(), "blockNumber": "0x7",
           "transactionHash": "0x" + "55" * 32, "transactionIndex": "0x0", "logIndex": "0x0"}
    ev = EventTable({"Clearing": clearing}).decode(log)
    assert (ev.name, ev.args) == ("MerchantPositionChanged", {"period": 1, "scheme": 2, "merchant": MERCHANT,
                                                              "delta": 30, "periodAmount": 30, "issuerNet": 31,
                                                              "merchantNet": -30})
    replayer = Replayer({"Clearing": clearing})
    replayer.process([ev])
    replayer.finish(7)
    # the replay sums the nets itself (30 owed by scheme 2's issuer), so the event's 31 is a mismatch; the position
    # moved without a redemption besides
    assert sorted(_codes(replayer)) == ["issuer-net", "unexplained-position"]
