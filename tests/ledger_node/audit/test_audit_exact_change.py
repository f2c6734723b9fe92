"""The audit of exact change (issue 27): a city whose redemptions, refunds and exchanges leave change audits clean
and reports the change and the issuers' liability in value; value moved outside the flows, or a history whose
parts and sides do not conserve value, is a "conservation" violation with its figures."""
from __future__ import annotations

import copy

from web3.logs import DISCARD

from ledger_node.audit.events import EventTable
from ledger_node.audit.replay import Replayer
from ledger_node.audit.rpc import Rpc
from ledger_node.deploy.system import call
from ledger_node.domain import RATE_SCALE

S1, S2 = 1, 2
RATE_2 = 33_333_333


def _redeemed(city, receipt) -> dict:
    (ev,) = city["Redemption"].events.Redeemed().process_receipt(receipt, errors=DISCARD)
    return ev["args"]


def _refund(city, r: dict, credits: int) -> dict:
    parts = [(p["scheme"], p["points"], p["credits"]) for p in r["parts"]]
    receipt = city.send(city.merchant, city["Redemption"].functions.refund(r["redemptionId"], r["resident"],
                                                                          r["merchant"], parts, credits))
    (ev,) = city["Redemption"].events.Refunded().process_receipt(receipt, errors=DISCARD)
    return ev["args"]


def _replay(city, edit=None) -> Replayer:
    """Replay the city's real logs, after `edit(events)` changed some (a history a node could serve)."""
    rpc = Rpc(city.url)
    table = EventTable(city.addresses)
    events = [e for e in map(table.decode, rpc.get_logs(table.addresses, 0, rpc.block_number())) if e]
    if edit is not None:
        edit(events)
    replayer = Replayer(city.addresses)
    replayer.process(events)
    replayer.finish(events[-1].block)
    return replayer


def test_cityLeavingChange_auditsClean_andReportsChangeAndLiability(audit_city, run_audit):
    city = audit_city
    resident = city.residents[3]
    # 2 credit cents in scheme 2 (33.333333 cents a point): one point burned, 31.333333 cents left as change
    first = _redeemed(city, city.redeem(city.consent(resident, 2, parts=[(S2, 1, 2)])))
    assert first["parts"][0]["changeAfter"] == RATE_2 - 2 * RATE_SCALE
    # the change pays the next one without a point; then a full refund of the first at a changed rate
    _redeemed(city, city.redeem(city.consent(resident, 30, parts=[(S2, 0, 30)])))
    city.govern([call(city["Rates"], "setRate", S2, 25_000_000)])
    refund = _refund(city, first, 2)
    assert refund["parts"][0]["points"] == 0 and refund["parts"][0]["changeAfter"] == (
        refund["parts"][0]["changeBefore"] + 2 * RATE_SCALE)
    city.exchange(city.residents[1], S2, S1, 7)  # 7 points at 25 cents: 175 cents, 17 points and 5 cents change
    result = run_audit()
    assert result.report["problems"] == [], result.report["problems"]
    assert "conservation" in result.report["checks"]
    assert result.report["counts"]["eventsByName"]["ChangeUpdated"] >= 5
    ledger, rates = city["PointsLedger"], city["Rates"]
    holders = [r.address for r in city.residents] + [city.wallet]
    for s in result.report["schemes"]:
        change = sum(ledger.functions.changeOf(a, s["scheme"]).call() for a in holders)
        supply, rate = ledger.functions.totalSupply(s["scheme"]).call(), rates.functions.rateOf(s["scheme"]).call()
        assert s["totalChange"] == change
        assert s["liabilityValue"] == supply * rate + change
    s2 = next(s for s in result.report["schemes"] if s["scheme"] == S2)
    assert s2["totalChange"] > 0 and s2["refundedCredits"] >= 2


def test_ledgerOperatorEoa_spendingOutsideAFlow_isConservationViolation(audit_city, run_audit):
    """A ledger-operator role granted to an EOA: it spends a resident's points and change with no redemption."""
    city = audit_city
    resident = city.residents[3].address
    city.redeem(city.consent(city.residents[3], 2, parts=[(S2, 1, 2)]))  # leaves change in scheme 2
    rogue = city.ops
    role = city["Membership"].functions.LEDGER_OPERATOR_ROLE().call()
    city.govern([call(city["Membership"], "grantRole", role, rogue.address)])
    change = city["PointsLedger"].functions.changeOf(resident, S2).call()
    receipt = city.send(rogue, city["PointsLedger"].functions.spend(S2, resident, 3, RATE_2, 3 * RATE_2 + change,
                                                                     b"\x99" * 32))
    result = run_audit()
    found = [p for p in result.problems if p.code == "conservation" and p.block == receipt["blockNumber"]]
    assert len(found) == 1 and found[0].kind == "violation", result.report["problems"]
    assert found[0].tx == receipt["transactionHash"].to_0x_hex()
    (moved,) = found[0].evidence["changes"]
    assert moved[:4] == [S2, resident.lower(), change, 0] and moved[5] == rogue.address.lower()
    assert "unexplained-burn" in {p.code for p in result.problems}


def test_forgedRedeemedPart_isConservationViolationWithItsFigures(audit_city):
    """A history whose Redeemed says a part kept more change than its points and the change before pay for."""
    city = audit_city
    r = _redeemed(city, city.redeem(city.consent(city.residents[3], 2, parts=[(S2, 1, 2)])))
    tx = None

    def edit(events):
        nonlocal tx
        (ev,) = [e for e in events if e.name == "Redeemed" and e.args["redemptionId"] == "0x" + r["redemptionId"].hex()]
        ev.args = copy.deepcopy(ev.args)
        ev.args["parts"][0][5] += RATE_SCALE  # a cent more change than the points left
        tx = ev.tx

    problems = [p for p in _replay(city, edit).problems if p.code == "conservation"]
    assert problems and all(p.tx == tx for p in problems)
    figures = next(p.evidence for p in problems if "value" in p.evidence)
    assert figures["scheme"] == S2 and figures["points"] == 1 and figures["credits"] == 2
    assert figures["value"] == RATE_2 and figures["changeAfter"] == RATE_2 - RATE_SCALE


def test_forgedRefundAndExchangeSides_areConservationViolations(audit_city):
    city = audit_city
    r = _redeemed(city, city.redeem(city.consent(city.residents[3], 2, parts=[(S2, 1, 2)])))
    _refund(city, r, 2)
    city.exchange(city.residents[1], S1, S2, 10)

    def edit(events):
        for ev in events:
            if ev.name == "Refunded" and ev.args["redemptionId"] == "0x" + r["redemptionId"].hex():
                ev.args = copy.deepcopy(ev.args)
                ev.args["parts"][0][3] += 1  # a cent more given back than the value restored
            if ev.name == "Exchanged" and ev.args["points"] == 10:
                ev.args = copy.deepcopy(ev.args)
                ev.args["given"][1] += RATE_2  # a point more given than the credits bought

    problems = [p for p in _replay(city, edit).problems if p.code in ("conservation", "refund-parts",
                                                                      "refund-exceeds-taken")]
    names = {p.evidence.get("side", "refund") for p in problems if p.code == "conservation"}
    assert names >= {"refund", "given"}, problems
    assert "refund-exceeds-taken" in {p.code for p in problems}


def test_partBurningAWholePointTooMany_isViolation(audit_city):
    """The chain refuses a plan burning a point more than its credits need; a history that shows one is caught."""
    city = audit_city
    r = _redeemed(city, city.redeem(city.consent(city.residents[3], 2, parts=[(S2, 1, 2)])))

    def edit(events):
        (ev,) = [e for e in events if e.name == "Redeemed" and e.args["redemptionId"] == "0x" + r["redemptionId"].hex()]
        ev.args = copy.deepcopy(ev.args)
        part = ev.args["parts"][0]
        part[1], part[2] = 2, 2 * RATE_2  # two points burned for 2 cents, the surplus "kept as change"
        part[5] = part[2] + part[4] - 2 * RATE_SCALE

    codes = {p.code for p in _replay(city, edit).problems}
    assert "part-takes-too-much" in codes


def test_changeMovesWithTheAccountOnRecovery(audit_city, run_audit):
    """A recovery moves the whole record, change included: the audit follows it to the new key."""
    from eth_account import Account

    city = audit_city
    old = city.residents[3]
    city.redeem(city.consent(old, 2, parts=[(S2, 1, 2)]))
    new = Account.create()
    m = city["Membership"]
    city.send(city.onboarding, m.functions.requestRecovery(old.address, new.address))
    city.govern([call(m, "approveRecovery", old.address)])
    assert city["PointsLedger"].functions.changeOf(new.address, S2).call() == RATE_2 - 2 * RATE_SCALE
    result = run_audit()
    assert result.report["problems"] == [], result.report["problems"]
    assert result.report["state"]["ledger"]["change"] and any(
        a == new.address.lower() and s == S2 for s, a, _ in result.report["state"]["ledger"]["change"])


def test_changeWrittenBehindTheLedger_isMismatchAtTheLastBlock(audit_city, tamper, run_audit):
    """Change written into a holder's slot (bits 192-254) where no flow ever moved change: changeOf disagrees."""
    victim = audit_city.residents[5].address
    slot = tamper.slot("PointsLedger", "_holders", S1, victim)
    tamper.write("PointsLedger", slot, tamper.read("PointsLedger", slot) | (7 * RATE_SCALE) << 192)
    assert audit_city["PointsLedger"].functions.changeOf(victim, S1).call() == 7 * RATE_SCALE
    result = run_audit()
    (p,) = [p for p in result.problems if p.evidence.get("call") == "changeOf(address,uint256)"]
    assert p.kind == "mismatch" and p.evidence["args"] == [victim.lower(), S1]
    assert (p.evidence["chain"], p.evidence["rebuilt"]) == (7 * RATE_SCALE, 0)


def test_planRules_areTheContracts(audit_city):
    """The replay's plan bound is the contract's, and a history with a plan the chain would refuse is a violation."""
    from ledger_node.audit.replay_redemption import MAX_PARTS

    city = audit_city
    assert city["Redemption"].functions.MAX_PARTS().call() == MAX_PARTS
    r = _redeemed(city, city.redeem(city.consent(city.residents[3], 2, parts=[(S2, 1, 2)])))

    def edit(events):
        (ev,) = [e for e in events if e.name == "Redeemed" and e.args["redemptionId"] == "0x" + r["redemptionId"].hex()]
        ev.args = copy.deepcopy(ev.args)
        ev.args["parts"].append(list(ev.args["parts"][0]))  # the same scheme twice

    problems = _replay(city, edit).problems
    assert {"invalid-plan", "parts-sum"} <= {p.code for p in problems}
