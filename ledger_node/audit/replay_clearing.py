"""The audit replay's clearing handlers: merchant and issuer positions and nets, period closing, and the
statements' payments, confirmations and disputes. The nets are the replay's own sums of the position moves and
confirmed payments (Clearing stores no nets since issue 25; its events before it carried them, checked where present).

A position move is left on its transaction (`Tx.mpos`, `Tx.ipos`) for the Redeemed, Refunded or Exchanged
event that explains it (replay_redemption). A closed period's statements are indexed by id, each the sum of
its period's events, so a payment is matched to what the events add up to.
"""
from __future__ import annotations

from ledger_node.audit.events import Event
from ledger_node.audit.model import VIOLATION
from ledger_node.audit.replay_tx import Tx
from ledger_node.audit.state import State
from ledger_node.domain import ISSUER_PAIR, MERCHANT_PAIR, statement_id

OPEN, PAID, CONFIRMED, DISPUTED = 0, 1, 2, 3  # IClearing.SettlementState


class ClearingHandlers:
    """Clearing events; mixed into replay.Replayer, which supplies `state`, `problem` and `_expect`."""

    state: State

    def on_Clearing__MerchantPositionChanged(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        period, scheme, merchant, delta = a["period"], a["scheme"], a["merchant"], a["delta"]
        self._expect(ev, "clearing-period", "period", period, st.open_period)
        key = (period, scheme, merchant)
        st.merchant_pos[key] = st.merchant_pos.get(key, 0) + delta
        st.issuer_net[scheme] += delta
        st.merchant_net[merchant] -= delta
        self._expect(ev, "merchant-position", f"position of ({scheme}, {merchant}) in period {period}",
                     a["periodAmount"], st.merchant_pos[key])
        if "issuerNet" in a:  # the layout before issue 25 carried the nets (since summed from the events)
            self._expect(ev, "issuer-net", f"net of scheme {scheme}'s issuer", a["issuerNet"], st.issuer_net[scheme])
            self._expect(ev, "merchant-net", f"net of merchant {merchant}", a["merchantNet"],
                         st.merchant_net[merchant])
        tx.mpos.append((scheme, merchant, delta))

    def on_Clearing__IssuerPositionChanged(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        period, frm, to, credits = a["period"], a["fromScheme"], a["toScheme"], a["credits"]
        self._expect(ev, "clearing-period", "period", period, st.open_period)
        lo, hi = min(frm, to), max(frm, to)
        key = (period, lo, hi)
        st.issuer_pos[key] = st.issuer_pos.get(key, 0) + (credits if frm < to else -credits)
        st.issuer_net[frm] += credits
        st.issuer_net[to] -= credits
        self._expect(ev, "issuer-position", f"position of ({lo}, {hi}) in period {period}", a["periodAmountLoHi"],
                     st.issuer_pos[key])
        if "fromNet" in a:  # the layout before issue 25
            self._expect(ev, "issuer-net", f"net of scheme {frm}'s issuer", a["fromNet"], st.issuer_net[frm])
            self._expect(ev, "issuer-net", f"net of scheme {to}'s issuer", a["toNet"], st.issuer_net[to])
        tx.ipos.append((frm, to, credits))

    def on_Clearing__PeriodClosed(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        self._expect(ev, "closed-period", "closed period", a["period"], st.open_period)
        if not st.has_role("OPERATOR", a["operator"]):
            self.problem(VIOLATION, "closed-by-non-operator", f"{a['operator']} closed a period", ev)
        period = a["period"]
        st.closed_at[period] = a["closedAt"]
        st.open_period = period + 1
        # The period's statements are fixed now: index them by id so payments can be matched to their sums.
        for (p, scheme, merchant), amount in st.merchant_pos.items():
            if p == period:
                sid = statement_id(MERCHANT_PAIR, period, scheme, int(merchant, 16))
                st.statements[sid] = {"kind": MERCHANT_PAIR, "period": period, "a": scheme, "b": merchant,
                                      "amount": amount, "state": OPEN, "bankRefHash": "0x" + "00" * 32}
        for (p, lo, hi), amount in st.issuer_pos.items():
            if p == period:
                st.statements[statement_id(ISSUER_PAIR, period, lo, hi)] = {
                    "kind": ISSUER_PAIR, "period": period, "a": lo, "b": hi, "amount": amount, "state": OPEN,
                    "bankRefHash": "0x" + "00" * 32}

    def on_Clearing__PaymentRecorded(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        s = st.statements.get(a["statementId"])
        if s is None:
            self.problem(VIOLATION, "payment-unknown-statement", f"payment for statement {a['statementId']} that no "
                                                                 f"closed period's events add up to", ev)
            return
        self._expect(ev, "statement-amount", f"statement {a['statementId']} (sum of its period's events)",
                     a["amount"], abs(s["amount"]))
        if s["state"] not in (OPEN, DISPUTED):
            self.problem(VIOLATION, "payment-state", f"payment recorded in state {s['state']}", ev)
        if not self._acts_for(s, s["amount"] > 0, a["by"]):
            self.problem(VIOLATION, "payment-not-debtor", f"{a['by']} does not act for the debtor", ev)
        s["state"], s["bankRefHash"] = PAID, a["bankRefHash"]

    def on_Clearing__PaymentConfirmed(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        s = st.statements.get(a["statementId"])
        if s is None or s["state"] != PAID:
            self.problem(VIOLATION, "confirm-state", "payment confirmed that was not recorded as paid", ev)
            return
        if not self._acts_for(s, s["amount"] < 0, a["by"]):
            self.problem(VIOLATION, "confirm-not-creditor", f"{a['by']} does not act for the creditor", ev)
        s["state"] = CONFIRMED
        amount = s["amount"]
        self._expect(ev, "statement-amount", "confirmed amount", a["amount"], abs(amount))
        st.issuer_net[s["a"]] -= amount
        if s["kind"] == MERCHANT_PAIR:
            st.merchant_net[s["b"]] += amount
        else:
            st.issuer_net[s["b"]] += amount

    def on_Clearing__PaymentDisputed(self, ev: Event, tx: Tx) -> None:
        s = self.state.statements.get(ev.args["statementId"])
        if s is None or s["state"] != PAID:
            self.problem(VIOLATION, "dispute-state", "payment disputed that was not recorded as paid", ev)
            return
        s["state"] = DISPUTED

    def _acts_for(self, s: dict, side_a: bool, who: str) -> bool:
        if s["kind"] == MERCHANT_PAIR:
            return who in self.state.issuers.get(s["a"], ()) if side_a else who == s["b"]
        return who in self.state.issuers.get(s["a"] if side_a else s["b"], ())

