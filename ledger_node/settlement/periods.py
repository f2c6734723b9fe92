"""Every clearing period at a glance (`settle periods`) and what is still awaited from whom (`settle status`).

A period's statements are its nonzero pairs: the pairs its position events name (Clearing has no view that lists
them), with the amount and settlement state the contract's views give. A statement is settled once confirmed; until
then the next step is the debtor's payment (open, or disputed: paid again) or the creditor's answer (paid).
"""
from __future__ import annotations

from dataclasses import dataclass

from ledger_node.settlement.errors import usage
from ledger_node.settlement.ledger import (SETTLEMENT_STATES, ClearingLedger, Log, StatementView, issuer_statement,
                                           merchant_statement)
from ledger_node.settlement.statement import (POSITION_EVENTS, issuer_party, iso, merchant_party, money,
                                              payer_payee)


@dataclass(frozen=True)
class PeriodStatement:
    period: int
    kind: str            # "merchant" or "issuer"
    a: int               # the scheme (merchant pair) or the lower scheme (issuer pair)
    b: str | int         # the merchant (merchant pair) or the higher scheme (issuer pair)
    view: StatementView

    def sides(self) -> tuple[dict, dict]:
        return (issuer_party(self.a), merchant_party(self.b) if self.kind == "merchant" else issuer_party(self.b))

    def awaiting(self, ledger: ClearingLedger) -> dict:
        """The next step of an unsettled statement: what, from whom (and which accounts may take it), the command."""
        payer, payee = payer_payee(*self.sides(), self.view.amount)
        state = self.view.settlement
        step = {"open": "payment", "disputed": "payment again (the last one was disputed)",
                "paid": "confirmation or dispute"}[state]
        party = payee if state == "paid" else payer
        if state == "paid":
            command = f"citypoints settle confirm {self.view.statement_id}"
        elif self.kind == "merchant":
            command = f"citypoints settle pay {self.period} --scheme {self.a} --merchant {self.b} --ref BANKREF"
        else:
            command = f"citypoints settle pay {self.period} --issuers {self.a} {self.b} --ref BANKREF"
        accounts = ([party["merchant"]] if party["kind"] == "merchant"
                    else list(ledger.view("Membership", "issuerAccounts", party["scheme"])))
        return {**self.as_dict(), "awaiting": step, "from": party, "fromAccounts": accounts, "command": command}

    def as_dict(self) -> dict:
        payer, payee = payer_payee(*self.sides(), self.view.amount)
        ids = {"scheme": self.a, "merchant": self.b} if self.kind == "merchant" else {"schemeA": self.a,
                                                                                      "schemeB": self.b}
        return {"period": self.period, "statementId": self.view.statement_id, "kind": self.kind, **ids,
                "payer": payer, "payee": payee, **money("amount", abs(self.view.amount)),
                "settlement": self.view.settlement, "bankRefHash": self.view.bank_ref_hash}


def statements_of(ledger: ClearingLedger, period: int, positions: list[Log]) -> list[PeriodStatement]:
    """The nonzero statements of `period` (amounts and states from the views) among the pairs `positions` name."""
    merchant_pairs, issuer_pairs = set(), set()
    for log in positions:
        a = log.args
        if a["period"] != period:
            continue
        if log.name == "MerchantPositionChanged":
            merchant_pairs.add((a["scheme"], a["merchant"]))
        else:
            issuer_pairs.add((min(a["fromScheme"], a["toScheme"]), max(a["fromScheme"], a["toScheme"])))
    out = [PeriodStatement(period, "merchant", s, m, merchant_statement(ledger, period, s, m))
           for s, m in sorted(merchant_pairs)]
    out += [PeriodStatement(period, "issuer", lo, hi, issuer_statement(ledger, period, lo, hi))
            for lo, hi in sorted(issuer_pairs)]
    return [s for s in out if s.view.amount != 0]


def list_periods(ledger: ClearingLedger) -> dict:
    """Each period: open or closed, when, how many statements, and how many of them are in each state."""
    open_period = ledger.view("Clearing", "openPeriod")
    positions = ledger.logs("Clearing", POSITION_EVENTS)
    data = []
    for period in range(1, open_period + 1):
        closed_at = ledger.view("Clearing", "closedAt", period) if period < open_period else 0
        statements = statements_of(ledger, period, positions)
        counts = {state: sum(s.view.settlement == state for s in statements) for state in SETTLEMENT_STATES}
        data.append({"period": period, "state": "closed" if period < open_period else "open",
                     "closedAt": closed_at or None, "closedAtIso": iso(closed_at), "statements": len(statements),
                     **counts})
    return {"object": "list", "openPeriod": open_period, "asOfBlock": ledger.head, "data": data}


def status(ledger: ClearingLedger, period: int | None = None) -> dict:
    """What is still awaited, from whom: of `period`, or of every period (the open one awaits its close)."""
    open_period = ledger.view("Clearing", "openPeriod")
    if period is not None and not 1 <= period <= open_period:
        raise usage("unknown_period", f"there is no period {period}: periods run from 1 to the open period "
                                      f"{open_period}")
    periods = [period] if period is not None else list(range(1, open_period + 1))
    positions = ledger.logs("Clearing", POSITION_EVENTS) if any(p < open_period for p in periods) else []
    summaries, awaiting = [], []
    for p in periods:
        if p == open_period:
            summaries.append({"period": p, "state": "open", "statements": None, "settled": None, "awaiting": None,
                              "next": "close it (an account with OPERATOR_ROLE): citypoints settle close"})
            continue
        statements = statements_of(ledger, p, positions)
        pending = [s.awaiting(ledger) for s in statements if s.view.settlement != "confirmed"]
        awaiting += pending
        summaries.append({"period": p, "state": "closed", "statements": len(statements),
                          "settled": len(statements) - len(pending), "awaiting": len(pending), "next": None})
    return {"object": "status", "openPeriod": open_period, "asOfBlock": ledger.head, "periods": summaries,
            "awaiting": awaiting}
