"""A closed period's statement, read through ledger_node.settlement on the session node: it equals what the period's
events add up to, says so loudly when they disagree, and the payments settle it (or are disputed and paid again)."""
from __future__ import annotations

import pytest
from eth_utils import keccak

from ledger_node.audit.run import AuditOptions, audit
from ledger_node.settlement import payments
from ledger_node.settlement.errors import SettlementError
from ledger_node.settlement.periods import list_periods, status
from ledger_node.settlement.statement import assemble, check, collect, period_statement, read_views

from tests.contracts.helpers import clearing_nets

from .conftest import S1, S2, event_sums


def lines(statement) -> dict:
    out = statement.as_dict()
    return ({(x["scheme"], x["merchant"]): x for x in out["merchantStatements"]}
            | {(x["schemeA"], x["schemeB"]): x for x in out["issuerStatements"]})


def test_periodStatement_equalsTheSumOfThePeriodsEvents(city, period):
    sums = event_sums(city, period.receipts)
    st = period_statement(city.ledger(), period.period)
    got = lines(st)
    m = city.merchant.address
    for scheme in (S1, S2):
        line = got[scheme, m]
        gross, refunds = sums["gross"].get((scheme, m), 0), sums["refunds"].get((scheme, m), 0)
        assert (line["grossRedeemed"], line["refunds"], line["net"]) == (gross, refunds, gross - refunds)
        assert line["net"] == city.clearing.functions.merchantPosition(period.period, scheme, m).call()
        assert line["payer"]["scheme"] == scheme and line["payee"]["merchant"] == m
    assert (got[S1, m]["net"], got[S2, m]["net"]) == (6_000, 1_000)  # 5,000 + 1,500 - 500; 1,000
    assert got[S1, m]["netDecimal"] == "60.00" and got[S1, m]["refundsDecimal"] == "5.00"
    pair = got[S1, S2]
    assert (pair["aToB"], pair["bToA"]) == (sums["exchanged"][S1, S2], sums["exchanged"][S2, S1]) == (1_000, 200)
    assert pair["net"] == 800 and pair["payer"]["scheme"] == S1 and pair["payee"]["scheme"] == S2
    assert pair["statementId"] == "0x" + city.clearing.functions.issuerStatementId(period.period, S2, S1).call().hex()
    out = st.as_dict()
    assert out["check"] == {"agrees": True, "disagreements": [], "events": out["check"]["events"]}
    assert out["check"]["events"]["Redeemed"] >= 2 and out["check"]["events"]["Exchanged"] >= 2
    scheme1 = next(s for s in out["schemes"] if s["scheme"] == S1)
    assert scheme1["net"] == 6_000 + 800  # owes the merchant, and scheme 82's issuer the exchanges' net


def test_periodStatement_equalsThePositionsTheAuditorsReplayAddsUp(city, period, node):
    out = period_statement(city.ledger(), period.period).as_dict()
    replayed = audit(AuditOptions(node.url, city.addresses, compare=False, proofs=False)).report["state"]["ledger"]
    assert {(x["scheme"], x["merchant"].lower()): x["net"] for x in out["merchantStatements"]} == {
        (s, m.lower()): v for p, s, m, v in replayed["merchantPositions"] if p == period.period}
    assert {(x["schemeA"], x["schemeB"]): x["net"] for x in out["issuerStatements"]} == {
        (lo, hi): v for p, lo, hi, v in replayed["issuerPositions"] if p == period.period}


def test_periodStatement_saysWhichSidesDisagree_whenAnEventIsMissing(city, period):
    ledger = city.ledger()
    events = collect(ledger, period.period)
    refund = next(log for log in events.value if log.name == "Refunded")
    events.value.remove(refund)  # as a node that lost one log would answer
    st = assemble(events, ledger.head)
    read_views(ledger, st)
    problems = check(st)
    assert problems and not check(_complete(ledger, period.period))
    assert any(f"scheme {S1}, {city.merchant.address}" in p and "Refunded parts 0.00" in p for p in problems)


def _complete(ledger, period):
    st = assemble(collect(ledger, period), ledger.head)
    read_views(ledger, st)
    return st


def test_payAndConfirm_settleEveryStatement_andNothingIsAwaited(city, period):
    p, m = period.period, city.merchant.address
    before = status(city.ledger(), p)
    assert {(a["kind"], a["awaiting"], a["from"]["name"]) for a in city.mine(before["awaiting"])} == {
        ("merchant", "payment", f"issuer of scheme {S1}"), ("merchant", "payment", f"issuer of scheme {S2}"),
        ("issuer", "payment", f"issuer of scheme {S1}")}
    assert next(a for a in city.mine(before["awaiting"]) if a["kind"] == "issuer")["fromAccounts"] == [city.issuer1.address]
    paid = payments.pay_merchant(city.ledger(), city.issuer1, p, S1, m, "SEPA 2026-12-05 0001")
    assert paid["bankRefHash"] == "0x" + keccak(text="SEPA 2026-12-05 0001").hex()
    assert (paid["amount"], paid["settlement"]) == (6_000, "paid")
    assert city.mine(status(city.ledger(), p)["awaiting"])[0]["awaiting"] == "confirmation or dispute"
    payments.confirm(city.ledger(), city.merchant, paid["statementId"])
    sid2 = payments.pay_merchant(city.ledger(), city.issuer2, p, S2, m, "SEPA 0002")["statementId"]
    payments.confirm(city.ledger(), city.merchant, sid2)
    sid3 = payments.pay_issuers(city.ledger(), city.issuer1, p, S2, S1, "SEPA 0003")["statementId"]
    confirmed = payments.confirm(city.ledger(), city.issuer2, sid3)
    assert (confirmed["amount"], confirmed["amountDecimal"]) == (800, "8.00")
    st = period_statement(city.ledger(), p)
    assert st.agrees and {x["settlement"] for x in lines(st).values()} == {"confirmed"}
    assert city.mine(status(city.ledger(), p)["awaiting"]) == []
    assert status(city.ledger())["periods"][-1] == {"period": p + 1, "state": "open", "statements": None,
                                                    "settled": None, "awaiting": None,
                                                    "next": "close it (an account with OPERATOR_ROLE): citypoints "
                                                            "settle close"}
    row = next(x for x in list_periods(city.ledger())["data"] if x["period"] == p)
    assert (row["state"], row["statements"], row["confirmed"], row["paid"]) == ("closed", 3, 3, 0)
    issuer_nets, merchant_nets = clearing_nets(city.clearing)  # every statement settled: nobody owes anything
    assert issuer_nets[S1] == issuer_nets[S2] == merchant_nets[m] == 0


def test_dispute_recordsTheReasonsHash_andTheDebtorPaysAgain(city, period):
    p, m = period.period, city.merchant.address
    first = payments.pay_merchant(city.ledger(), city.issuer1, p, S1, m, "SEPA wrong amount")
    disputed = payments.dispute(city.ledger(), city.merchant, first["statementId"], "only 50.00 arrived")
    assert disputed["reasonHash"] == "0x" + keccak(text="only 50.00 arrived").hex()
    waiting = next(a for a in status(city.ledger(), p)["awaiting"] if a["statementId"] == first["statementId"])
    assert (waiting["settlement"], waiting["from"]["scheme"]) == ("disputed", S1)
    again = payments.pay_merchant(city.ledger(), city.issuer1, p, S1, m, "SEPA top-up 0042")
    payments.confirm(city.ledger(), city.merchant, again["statementId"])
    line = lines(period_statement(city.ledger(), p))[S1, m]
    assert (line["settlement"], line["bankRefHash"]) == ("confirmed", again["bankRefHash"])


def test_payments_areRefusedWithTheContractsCodes_andNothingIsSent(city, period):
    p, m = period.period, city.merchant.address
    nonce = city.w3.eth.get_transaction_count(city.issuer1.address)
    refusals = [
        (lambda: payments.pay_merchant(city.ledger(), city.issuer1, p + 1, S1, m, "early"), "period_not_closed"),
        (lambda: payments.pay_merchant(city.ledger(), city.issuer2, p, S1, m, "not ours"), "not_debtor"),
        (lambda: payments.pay_issuers(city.ledger(), city.issuer1, p, S1, S1, "same"), "same_scheme"),
        (lambda: payments.pay_merchant(city.ledger(), city.issuer1, p, S1, m, "  "), "invalid_reference"),
    ]
    for attempt, code in refusals:
        with pytest.raises(SettlementError) as info:
            attempt()
        assert info.value.code == code
    assert city.w3.eth.get_transaction_count(city.issuer1.address) == nonce
    sid = payments.pay_merchant(city.ledger(), city.issuer1, p, S1, m, "SEPA 1")["statementId"]
    with pytest.raises(SettlementError) as twice:
        payments.pay_merchant(city.ledger(), city.issuer1, p, S1, m, "SEPA 1 again")
    assert (twice.value.code, twice.value.contract_error) == ("settlement_wrong_state", "ClearingWrongState")
    with pytest.raises(SettlementError) as not_creditor:
        payments.confirm(city.ledger(), city.issuer1, sid)
    assert not_creditor.value.code == "not_creditor"


def test_statement_ofTheOpenPeriod_isRefusedAsNotClosed(city):
    open_period = city.clearing.functions.openPeriod().call()
    with pytest.raises(SettlementError) as info:
        period_statement(city.ledger(), open_period)
    assert info.value.code == "period_not_closed"


def test_periodStatement_carriesTheValueAndChangeOfItsParts(city):
    """Exact change: per scheme the points burned and restored, their worth and the change left with residents, the
    same figures the Redeemed and Refunded parts carry, and they add up to the credits paid and refunded."""
    r0 = city.residents[0]
    period = city.clearing.functions.openPeriod().call()
    first = city.redeem(r0, 7, parts=[(S2, 2, 7)])  # 2 points at 5 cents: 3 cents of change left
    city.redeem(r0, 2, parts=[(S2, 0, 2)])           # paid from the change: 1 cent left
    city.refund(first, 7)                            # 7 cents + 1 of change: 1 point back, 3 cents of change
    city.close()
    ledger = city.ledger()
    st = period_statement(ledger, period)
    out = st.as_dict()
    assert out["check"]["agrees"], out["check"]
    s2 = next(s for s in out["schemes"] if s["scheme"] == S2)
    assert (s2["grossRedeemed"], s2["refunds"]) == (9, 7)
    assert (s2["redeemedPoints"], s2["redeemedValue"], s2["redemptionChange"]) == (2, 10_000_000, 1_000_000)
    assert (s2["refundedPoints"], s2["refundedValue"], s2["refundChange"]) == (1, 5_000_000, 2_000_000)
    assert s2["redeemedValueDecimal"] == "0.10" and s2["redemptionChangeDecimal"] == "0.01"
    assert city.contracts["PointsLedger"].functions.changeOf(r0.address, S2).call() == 3_000_000
    # a node answering a Refunded whose part restored a point more than its credits: the statement says so
    events = collect(ledger, period)
    refund = next(log for log in events.value if log.name == "Refunded")
    refund.args["parts"][0] = (S2, 2, 10_000_000, 7, 1_000_000, 3_000_000)
    forged = assemble(events, ledger.head)
    read_views(ledger, forged)
    assert any("Refunded parts gave back 0.10 in points and 0.02 of change, not the 0.07 credits refunded" in p
               for p in check(forged)), check(forged)
