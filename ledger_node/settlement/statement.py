"""A closed period's statement: per scheme (its issuer) and merchant the gross credits redeemed, the refunds and the
net position; per pair of schemes what their residents exchanged each way and the net; who pays whom.

Two sources are read and held equal, because a settlement pays real money on them: the Clearing contract's views
(the positions it will let be paid, and each statement's settlement state) and the period's events (the Redeemed,
Refunded and Exchanged events of the value contracts between the period's opening and its PeriodClosed, and
Clearing's own position and payment events of the period). The auditor's replay (ledger_node/audit/replay_clearing.py)
adds up the same events; any difference is listed in `check` and the command exits non-zero.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import IO

from ledger_node.contract_errors import CONTRACT_ERRORS
from ledger_node.domain import RATE_SCALE, credits_decimal, value_decimal
from ledger_node.settlement.errors import MISMATCH, SettlementError
from ledger_node.settlement.ledger import ClearingLedger, Log, issuer_statement, merchant_statement, topic_of

POSITION_EVENTS = ("MerchantPositionChanged", "IssuerPositionChanged")
PAYMENT_EVENTS = ("PaymentRecorded", "PaymentConfirmed", "PaymentDisputed")
CSV_COLUMNS = ("period", "kind", "statementId", "scheme", "merchant", "schemeA", "schemeB", "count",
               "grossRedeemed", "refunds", "aToB", "bToA", "net", "netDecimal", "payer", "payee", "amount",
               "amountDecimal", "settlement", "bankRefHash")


def money(name: str, cents: int) -> dict:
    return {name: cents, f"{name}Decimal": credits_decimal(cents)}


def value(name: str, units: int) -> dict:
    """A figure in value units (credit cents x RATE_SCALE: points' worth, change) and as exact credits."""
    return {name: units, f"{name}Decimal": value_decimal(units)}


def iso(timestamp: int | None) -> str | None:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat().replace("+00:00", "Z") if timestamp else None


def issuer_party(scheme: int) -> dict:
    return {"kind": "issuer", "scheme": scheme, "name": f"issuer of scheme {scheme}"}


def merchant_party(merchant: str) -> dict:
    return {"kind": "merchant", "merchant": merchant, "name": f"merchant {merchant}"}


def payer_payee(side_a: dict, side_b: dict, amount: int) -> tuple[dict | None, dict | None]:
    """Who pays whom for a signed statement amount (positive: side A owes side B)."""
    if amount == 0:
        return None, None
    return (side_a, side_b) if amount > 0 else (side_b, side_a)


# --- the lines -------------------------------------------------------------------------------------------------

@dataclass
class MerchantLine:
    """What `scheme`'s issuer and `merchant` owe each other for the period."""
    scheme: int
    merchant: str
    redemptions: int = 0
    gross: int = 0              # credits of the Redeemed parts of this scheme at this merchant
    refund_count: int = 0
    refunds: int = 0            # credits of the Refunded parts
    # Exact change (issue 27), in value units: the points the parts burned or restored, their worth at the rate
    # then, and the change they left with the residents (after less before, summed). Per part the chain conserves
    # `value + changeBefore == credits * RATE_SCALE + changeAfter` (Redeemed) and
    # `credits * RATE_SCALE + changeBefore == value + changeAfter` (Refunded); check() holds the sums to it.
    redeemed_points: int = 0
    redeemed_value: int = 0
    redeemed_change: int = 0
    refunded_points: int = 0
    refunded_value: int = 0
    refunded_change: int = 0
    recorded_up: int = 0        # Clearing's MerchantPositionChanged: positive deltas
    recorded_down: int = 0      # ... and negative ones, as a positive amount
    last_amount: int | None = None  # the period amount the last of those events carried
    position: int = 0           # Clearing.merchantPosition
    statement_id: str = ""
    settlement: str = "open"
    bank_ref_hash: str | None = None

    def as_dict(self, period: int) -> dict:
        payer, payee = payer_payee(issuer_party(self.scheme), merchant_party(self.merchant), self.position)
        return {"kind": "merchant", "period": period, "statementId": self.statement_id, "scheme": self.scheme,
                "merchant": self.merchant, "redemptions": self.redemptions, **money("grossRedeemed", self.gross),
                "refundCount": self.refund_count, **money("refunds", self.refunds), **money("net", self.position),
                "payer": payer, "payee": payee, **money("amount", abs(self.position)),
                "settlement": self.settlement, "bankRefHash": self.bank_ref_hash}


@dataclass
class IssuerLine:
    """What the issuers of schemes `lo` < `hi` owe each other for the period's exchanges."""
    lo: int
    hi: int
    exchanges: int = 0
    lo_to_hi: int = 0           # credits of Exchanged from `lo` into `hi`: `lo`'s issuer owes `hi`'s
    hi_to_lo: int = 0
    recorded_lo_to_hi: int = 0  # Clearing's IssuerPositionChanged, each way
    recorded_hi_to_lo: int = 0
    last_amount: int | None = None
    position: int = 0           # Clearing.issuerPosition(lo, hi): positive when `lo` owes `hi`
    statement_id: str = ""
    settlement: str = "open"
    bank_ref_hash: str | None = None

    def as_dict(self, period: int) -> dict:
        payer, payee = payer_payee(issuer_party(self.lo), issuer_party(self.hi), self.position)
        return {"kind": "issuer", "period": period, "statementId": self.statement_id, "schemeA": self.lo,
                "schemeB": self.hi, "exchanges": self.exchanges, **money("aToB", self.lo_to_hi),
                **money("bToA", self.hi_to_lo), **money("net", self.position), "payer": payer, "payee": payee,
                **money("amount", abs(self.position)), "settlement": self.settlement,
                "bankRefHash": self.bank_ref_hash}


# --- the period's events ---------------------------------------------------------------------------------------

@dataclass
class PeriodEvents:
    """Everything the chain logged about one closed period."""
    period: int
    closed: Log                  # its PeriodClosed
    opened_after: Log | None     # the previous period's PeriodClosed (None: the deployment's start)
    first_block: int
    positions: list[Log]         # Clearing's position events naming the period, wherever they are
    value: list[Log]             # Redeemed, Refunded, Exchanged between the opening and the close
    payments: list[Log]          # Clearing's payment events naming the period

    def counts(self) -> dict:
        out: dict[str, int] = {}
        for log in (*self.value, *self.positions, *self.payments):
            out[log.name] = out.get(log.name, 0) + 1
        return out


def collect(ledger: ClearingLedger, period: int) -> PeriodEvents:
    """The events of closed `period`; `period_not_closed` (the contract's code for paying one) if it is not."""
    open_period = ledger.view("Clearing", "openPeriod")
    if not 1 <= period < open_period:
        raise SettlementError("period_not_closed", f"{CONTRACT_ERRORS['ClearingPeriodNotClosed'].message}: period "
                                                   f"{period} (the open period is {open_period})")
    closes = {log.args["period"]: log for log in ledger.logs(
        "Clearing", ("PeriodClosed",), [topic_of(p) for p in (period - 1, period) if p >= 1])}
    if period not in closes:
        raise SettlementError("statement_mismatch", f"Clearing's open period is {open_period} but no PeriodClosed "
                                                    f"event closes period {period}", exit_code=MISMATCH)
    closed, opened_after = closes[period], closes.get(period - 1)
    first_block = opened_after.block if opened_after else ledger.start_block
    after = opened_after.position if opened_after else (-1, -1)
    value = [log for log in ledger.logs("Redemption", ("Redeemed", "Refunded"), from_block=first_block,
                                        to_block=closed.block)
             + ledger.logs("Exchange", ("Exchanged",), from_block=first_block, to_block=closed.block)
             if after < log.position < closed.position]
    return PeriodEvents(period, closed, opened_after, first_block,
                        positions=ledger.logs("Clearing", POSITION_EVENTS, topic_of(period)),
                        value=sorted(value, key=lambda log: log.position),
                        payments=ledger.logs("Clearing", PAYMENT_EVENTS, None, topic_of(period),
                                             from_block=closed.block))


# --- the statement ---------------------------------------------------------------------------------------------

@dataclass
class Statement:
    events: PeriodEvents
    as_of_block: int
    merchants: dict[tuple[int, str], MerchantLine] = field(default_factory=dict)
    issuers: dict[tuple[int, int], IssuerLine] = field(default_factory=dict)
    disagreements: list[str] = field(default_factory=list)

    @property
    def period(self) -> int:
        return self.events.period

    @property
    def agrees(self) -> bool:
        return not self.disagreements

    def merchant(self, scheme: int, merchant: str) -> MerchantLine:
        return self.merchants.setdefault((scheme, merchant), MerchantLine(scheme, merchant))

    def issuer(self, a: int, b: int) -> IssuerLine:
        lo, hi = min(a, b), max(a, b)
        return self.issuers.setdefault((lo, hi), IssuerLine(lo, hi))

    def lines(self) -> list[dict]:
        return ([line.as_dict(self.period) for _, line in sorted(self.merchants.items())]
                + [line.as_dict(self.period) for _, line in sorted(self.issuers.items())])

    def as_dict(self) -> dict:
        closed = self.events.closed
        lines = self.lines()
        return {"object": "statement", "period": self.period, "closedAt": closed.args["closedAt"],
                "closedAtIso": iso(closed.args["closedAt"]), "closedBy": closed.args["operator"],
                "blocks": {"from": self.events.first_block, "closedIn": closed.block, "asOf": self.as_of_block},
                "merchantStatements": [x for x in lines if x["kind"] == "merchant"],
                "issuerStatements": [x for x in lines if x["kind"] == "issuer"],
                "schemes": self._schemes(), "merchants": self._merchant_totals(),
                "payments": [{"statementId": x["statementId"], "from": x["payer"], "to": x["payee"],
                              **money("amount", x["amount"]), "settlement": x["settlement"]}
                             for x in lines if x["amount"]],
                "totals": {**money("grossRedeemed", sum(m.gross for m in self.merchants.values())),
                           **money("refunds", sum(m.refunds for m in self.merchants.values())),
                           **money("owedToMerchants", sum(m.position for m in self.merchants.values())),
                           **money("exchanged", sum(i.lo_to_hi + i.hi_to_lo for i in self.issuers.values()))},
                "check": {"agrees": self.agrees, "disagreements": list(self.disagreements),
                          "events": self.events.counts()}}

    def write_csv(self, out: IO[str]) -> int:
        """One row per statement (CSV_COLUMNS; credits in cents, and the net and amount as decimals); the rows."""
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        rows = self.lines()
        for x in rows:
            writer.writerow({**x, "count": x.get("redemptions", x.get("exchanges")),
                             "payer": (x["payer"] or {}).get("name", ""), "payee": (x["payee"] or {}).get("name", ""),
                             "bankRefHash": x["bankRefHash"] or ""})
        return len(rows)

    def _schemes(self) -> list[dict]:
        schemes = sorted({s for s, _ in self.merchants} | {s for pair in self.issuers for s in pair})
        out = []
        for s in schemes:
            ms = [m for (scheme, _), m in self.merchants.items() if scheme == s]
            owes_out = sum(i.position for (lo, _), i in self.issuers.items() if lo == s)
            owes_in = sum(i.position for (_, hi), i in self.issuers.items() if hi == s)
            owed_merchants = sum(m.position for m in ms)
            out.append({"scheme": s, **money("grossRedeemed", sum(m.gross for m in ms)),
                        **money("refunds", sum(m.refunds for m in ms)), **money("owedToMerchants", owed_merchants),
                        # the same credits as the residents' value: points burned / restored at the rate then, and
                        # the change the parts left with them (Redeemed and Refunded parts carry these figures)
                        "redeemedPoints": sum(m.redeemed_points for m in ms),
                        **value("redeemedValue", sum(m.redeemed_value for m in ms)),
                        **value("redemptionChange", sum(m.redeemed_change for m in ms)),
                        "refundedPoints": sum(m.refunded_points for m in ms),
                        **value("refundedValue", sum(m.refunded_value for m in ms)),
                        **value("refundChange", sum(m.refunded_change for m in ms)),
                        **money("exchangedOut", sum(i.lo_to_hi if i.lo == s else i.hi_to_lo
                                                    for i in self.issuers.values() if s in (i.lo, i.hi))),
                        **money("exchangedIn", sum(i.hi_to_lo if i.lo == s else i.lo_to_hi
                                                   for i in self.issuers.values() if s in (i.lo, i.hi))),
                        # what the issuer owes for the period minus what it is owed, all pairs netted together
                        **money("net", owed_merchants + owes_out - owes_in)})
        return out

    def _merchant_totals(self) -> list[dict]:
        out = []
        for merchant in sorted({m for _, m in self.merchants}):
            ms = [line for (_, m), line in self.merchants.items() if m == merchant]
            out.append({"merchant": merchant, **money("grossRedeemed", sum(m.gross for m in ms)),
                        **money("refunds", sum(m.refunds for m in ms)),
                        **money("owed", sum(m.position for m in ms))})
        return out


def period_statement(ledger: ClearingLedger, period: int) -> Statement:
    """The statement of closed `period`, its views read and checked against its events."""
    statement = assemble(collect(ledger, period), ledger.head)
    read_views(ledger, statement)
    statement.disagreements = check(statement)
    return statement


def assemble(events: PeriodEvents, as_of_block: int) -> Statement:
    """The lines the period's events add up to (no view read yet)."""
    st = Statement(events, as_of_block)
    for log in events.value:
        a = log.args
        if log.name == "Exchanged":
            line = st.issuer(a["fromScheme"], a["toScheme"])
            line.exchanges += 1
            if a["fromScheme"] < a["toScheme"]:
                line.lo_to_hi += a["credits"]
            else:
                line.hi_to_lo += a["credits"]
            continue
        for scheme, points, worth, credits, change_before, change_after in a["parts"]:
            line = st.merchant(scheme, a["merchant"])
            if log.name == "Redeemed":
                line.redemptions, line.gross = line.redemptions + 1, line.gross + credits
                line.redeemed_points += points
                line.redeemed_value += worth
                line.redeemed_change += change_after - change_before
            else:
                line.refund_count, line.refunds = line.refund_count + 1, line.refunds + credits
                line.refunded_points += points
                line.refunded_value += worth
                line.refunded_change += change_after - change_before
    for log in events.positions:
        a = log.args
        if log.name == "MerchantPositionChanged":
            line = st.merchant(a["scheme"], a["merchant"])
            if a["delta"] >= 0:
                line.recorded_up += a["delta"]
            else:
                line.recorded_down -= a["delta"]
            line.last_amount = a["periodAmount"]
        else:
            line = st.issuer(a["fromScheme"], a["toScheme"])
            if a["fromScheme"] < a["toScheme"]:
                line.recorded_lo_to_hi += a["credits"]
            else:
                line.recorded_hi_to_lo += a["credits"]
            line.last_amount = a["periodAmountLoHi"]
    return st


def read_views(ledger: ClearingLedger, st: Statement) -> None:
    """Each line's position, statement id and settlement state as the Clearing contract holds them."""
    for (scheme, merchant), line in st.merchants.items():
        view = merchant_statement(ledger, st.period, scheme, merchant)
        line.position, line.statement_id, line.settlement, line.bank_ref_hash = (
            view.amount, view.statement_id, view.settlement, view.bank_ref_hash)
    for (lo, hi), line in st.issuers.items():
        view = issuer_statement(ledger, st.period, lo, hi)
        line.position, line.statement_id, line.settlement, line.bank_ref_hash = (
            view.amount, view.statement_id, view.settlement, view.bank_ref_hash)


def check(st: Statement) -> list[str]:
    """Every way the contract's views and the period's events disagree, in words (empty: they agree)."""
    problems = []
    for line in st.merchants.values():
        what = f"merchant statement (scheme {line.scheme}, {line.merchant})"
        problems += _differ(what, {
            "Clearing.merchantPosition": line.position,
            "its MerchantPositionChanged deltas": line.recorded_up - line.recorded_down,
            "the last MerchantPositionChanged.periodAmount": line.last_amount,
            "Redeemed less Refunded parts": line.gross - line.refunds})
        problems += _differ(what, {"Redeemed parts": line.gross, "positive MerchantPositionChanged deltas":
                                   line.recorded_up})
        problems += _differ(what, {"Refunded parts": line.refunds, "negative MerchantPositionChanged deltas":
                                   line.recorded_down})
        if line.redeemed_value - line.redeemed_change != line.gross * RATE_SCALE:
            problems.append(f"{what}: the Redeemed parts' points are worth {value_decimal(line.redeemed_value)} and "
                            f"left {value_decimal(line.redeemed_change)} of change, not the "
                            f"{credits_decimal(line.gross)} credits they paid")
        if line.refunded_value + line.refunded_change != line.refunds * RATE_SCALE:
            problems.append(f"{what}: the Refunded parts gave back {value_decimal(line.refunded_value)} in points "
                            f"and {value_decimal(line.refunded_change)} of change, not the "
                            f"{credits_decimal(line.refunds)} credits refunded")
    for line in st.issuers.values():
        what = f"issuer statement (schemes {line.lo} and {line.hi})"
        problems += _differ(what, {
            "Clearing.issuerPosition": line.position,
            "its IssuerPositionChanged events": line.recorded_lo_to_hi - line.recorded_hi_to_lo,
            "the last IssuerPositionChanged.periodAmountLoHi": line.last_amount,
            "Exchanged one way less the other": line.lo_to_hi - line.hi_to_lo})
    by_id = {line.statement_id: line for line in (*st.merchants.values(), *st.issuers.values())}
    from_events = _settlement_from_events(st.events.payments)
    for sid, (state, ref) in from_events.items():
        line = by_id.get(sid)
        if line is None:
            problems.append(f"a payment event names statement {sid}, which none of period {st.period}'s "
                            f"positions is")
        elif (line.settlement, line.bank_ref_hash) != (state, ref):
            problems.append(f"statement {sid}: Clearing.settlement says {line.settlement} "
                            f"({line.bank_ref_hash}), its payment events {state} ({ref})")
    for sid, line in by_id.items():
        if line.settlement != "open" and sid not in from_events:
            problems.append(f"statement {sid}: Clearing.settlement says {line.settlement}, but no payment event "
                            f"names it")
    return problems


def _settlement_from_events(payments: list[Log]) -> dict[str, tuple[str, str | None]]:
    """Each statement's state and bank reference hash as its payment events leave them."""
    out: dict[str, tuple[str, str | None]] = {}
    for log in payments:
        sid = log.args["statementId"]
        ref = out.get(sid, ("open", None))[1]
        if log.name == "PaymentRecorded":
            out[sid] = ("paid", log.args["bankRefHash"])
        elif log.name == "PaymentConfirmed":
            out[sid] = ("confirmed", ref)
        else:
            out[sid] = ("disputed", ref)
    return out


def _differ(what: str, sources: dict[str, int | None]) -> list[str]:
    values = {name: v for name, v in sources.items() if v is not None}
    if len(set(values.values())) <= 1:
        return []
    return [f"{what}: " + ", ".join(f"{name} {credits_decimal(v)}" for name, v in values.items())]
