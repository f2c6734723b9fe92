"""The audit replay's redemption handlers: Exchange (exchanges, pairs, daily limit) and Redemption (redemptions
re-planned in Python, refunds, preferred orders, refund window), and the nonces both spend.

Each Exchanged, Redeemed and Refunded takes from its transaction the ledger-operator burns, mints and restores
(replay_issuance) and the clearing moves (replay_clearing) it explains; Exchanged, Redeemed and PreferredOrderSet
leave an intent whose signer signatures.py checks against the calldata.
"""
from __future__ import annotations

from ledger_node.audit.events import Event
from ledger_node.audit.model import MISMATCH, VIOLATION
from ledger_node.audit.replay_tx import Tx
from ledger_node.audit.state import State
from ledger_node.domain import ROLES, SPENDABLE, credits_of, points_bought, points_to_pay, redemption_id


class RedemptionHandlers:
    """Exchange and Redemption events; mixed into replay.Replayer, which supplies `state`, `problem`,
    `_expect`, `contracts`, `intents` and `detector`."""

    state: State

    # ------------------------------------------------------------------------------------------------
    # Exchange and Redemption
    # ------------------------------------------------------------------------------------------------

    def _on_nonce(self, ev: Event, tx: Tx) -> None:
        key = (ev.args["resident"], ev.args["nonce"])
        used = self.state.nonces[ev.contract]
        if key in used:
            self.problem(VIOLATION, "nonce-reused", f"{ev.contract}: nonce {key[1]} of {key[0]} spent twice", ev)
        used.add(key)
        tx.nonces.append((ev.contract, *key))

    on_Exchange__NonceUsed = _on_nonce
    on_Redemption__NonceUsed = _on_nonce

    def _spend_nonce(self, ev: Event, tx: Tx, resident: str, nonce: str) -> None:
        key = (ev.contract, resident, nonce)
        if key in tx.nonces:
            tx.nonces.remove(key)
        else:
            self.problem(VIOLATION, "missing-nonce", f"{ev.name} without its NonceUsed", ev, nonce=nonce)

    def on_Exchange__Exchanged(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        resident, frm, to, points = a["resident"], a["fromScheme"], a["toScheme"], a["points"]
        self._spend_nonce(ev, tx, resident, a["nonce"])
        if (frm, to) not in st.pairs:
            self.problem(VIOLATION, "pair-not-allowed", f"exchange {frm} -> {to} is not an allowed pair", ev)
        rf, rt = st.rates.get(frm, 0), st.rates.get(to, 0)
        if not rf or not rt:
            self.problem(VIOLATION, "no-rate", f"exchange {frm} -> {to} without a rate in force", ev)
        else:
            credits = credits_of(points, rf)
            self._expect(ev, "exchange-credits", f"credits at the rate in force ({rf})", a["credits"], credits)
            self._expect(ev, "exchange-received", f"points received at the rate in force ({rt})", a["received"],
                         points_bought(credits, rt))
        if a["received"] == 0:
            self.problem(VIOLATION, "exchange-nothing", "exchange gave nothing", ev)
        day = st.today(ev.timestamp)
        usage = st.usage.get(resident)
        used = usage[1] if usage and usage[0] == day else 0
        used += a["credits"]
        st.usage[resident] = [day, used]
        self._expect(ev, "exchange-used-today", f"credits {resident} exchanged today", a["usedTodayAfter"], used)
        if used > st.daily_limit:
            self.problem(VIOLATION, "exchange-limit-exceeded", f"{resident} exchanged {used} credit cents today, over "
                                                               f"the limit {st.daily_limit}", ev)
        ref = redemption_id(resident, bytes.fromhex(a["nonce"][2:]))
        exchange = self.contracts.get("Exchange")
        self._consume(ev, tx.burns, (frm, resident, points, ref, exchange), "exchange-burn")
        self._consume(ev, tx.mints, (to, resident, a["received"], ref, exchange), "exchange-mint")
        self._consume(ev, tx.ipos, (frm, to, a["credits"]), "exchange-position")
        self.intents.append({"type": "ExchangeIntent", "contract": ev.address, "tx": ev.tx, "block": ev.block,
                             "resident": resident, "fromScheme": frm, "toScheme": to, "points": points,
                             "nonce": a["nonce"], "received": a["received"],
                             "timestamp": ev.timestamp})
        st.totals[frm]["exchangedOut"] += points
        st.totals[to]["exchangedIn"] += a["received"]
        if self.detector is not None:
            self.detector.on_exchange(resident, frm, to, points, a["received"], a["credits"], ev.timestamp, ev.tx,
                                      ev.block)

    def on_Exchange__PairAllowed(self, ev: Event, tx: Tx) -> None:
        pair = (ev.args["fromScheme"], ev.args["toScheme"])
        (self.state.pairs.add if ev.args["allowed"] else self.state.pairs.discard)(pair)

    def on_Exchange__DailyLimitSet(self, ev: Event, tx: Tx) -> None:
        self.state.daily_limit = ev.args["limit"]

    def on_Redemption__Redeemed(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        rid, resident, merchant, credits = a["redemptionId"], a["resident"], a["merchant"], a["credits"]
        parts = [tuple(p) for p in a["parts"]]
        self._spend_nonce(ev, tx, resident, a["nonce"])
        expected_id = redemption_id(resident, bytes.fromhex(a["nonce"][2:]))
        self._expect(ev, "redemption-id", "redemption id", rid, expected_id)
        if merchant not in st.merchants or st.merchants[merchant]:
            self.problem(VIOLATION, "merchant-not-active", f"{merchant} is not an active merchant", ev)
        if sum(p[2] for p in parts) != credits:
            self.problem(VIOLATION, "parts-sum", f"parts add up to {sum(p[2] for p in parts)}, not {credits}", ev)
        redemption = self.contracts.get("Redemption")
        for scheme, points, part_credits in parts:
            self._consume(ev, tx.burns, (scheme, resident, points, rid, redemption), "redemption-burn")
            self._consume(ev, tx.mpos, (scheme, merchant, part_credits), "redemption-position")
        before = {s: st.balances.get((s, resident), 0) for s in st.scheme_order}
        for scheme, points, _ in parts:
            before[scheme] = before.get(scheme, 0) + points
        plan, value = self._plan(resident, credits, before)
        if plan != parts:
            self.problem(MISMATCH, "redemption-plan", "the burned parts are not what the rules take (preferred "
                                                      "order, rates in force, rounding against the resident)", ev,
                         event=parts, rebuilt=plan)
        if rid in st.redemptions:
            self.problem(VIOLATION, "redemption-twice", f"redemption {rid} recorded twice", ev)
        st.redemptions[rid] = {"resident": resident, "merchant": merchant, "credits": credits, "refunded": 0,
                               "parts": [list(p) for p in parts], "redeemedAt": ev.timestamp}
        self.intents.append({"type": "RedemptionConsent", "contract": ev.address, "tx": ev.tx, "block": ev.block,
                             "resident": resident, "merchant": merchant, "credits": credits,
                             "orderRef": a["orderRef"], "nonce": a["nonce"], "timestamp": ev.timestamp,
                             "relayers": sorted(st.roles.get(ROLES["RELAYER"], ()))})
        for scheme, points, part_credits in parts:
            st.totals[scheme]["redeemed"] += points
            st.totals[scheme]["redeemedCredits"] += part_credits
        if self.detector is not None:
            reg = st.residents.get(resident, {}).get("registeredAt")
            self.detector.on_redeem(resident, merchant, credits, value, reg, ev.timestamp, ev.tx, ev.block)

    def _plan(self, resident: str, credits: int, balances: dict[int, int]) -> tuple[list[tuple], int]:
        """Redemption._planOrRevert in Python over the rebuilt state; returns (parts, value available before)."""
        st = self.state
        preferred = st.preferred.get(resident, [])
        order = list(preferred) + [s for s in st.scheme_order if s not in preferred]
        parts, remaining, value = [], credits, 0
        for scheme in order:
            info = st.schemes.get(scheme)
            if info is None or info["status"] not in SPENDABLE:
                continue
            rate, bal = st.rates.get(scheme, 0), balances.get(scheme, 0)
            if rate:
                value += credits_of(bal, rate)
            if remaining == 0 or rate == 0 or bal == 0:
                continue
            need = points_to_pay(remaining, rate)
            if bal >= need:
                parts.append((scheme, need, remaining))
                remaining = 0
            else:
                v = credits_of(bal, rate)
                if v == 0:
                    continue
                parts.append((scheme, bal, v))
                remaining -= v
        return parts, value

    def on_Redemption__Refunded(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        rid = a["redemptionId"]
        rec = st.redemptions.get(rid)
        if rec is None:
            self.problem(VIOLATION, "refund-unknown", f"refund of unknown redemption {rid}", ev)
            return
        if (rec["resident"], rec["merchant"]) != (a["resident"], a["merchant"]):
            self.problem(VIOLATION, "refund-parties", "refund names other parties than the redemption", ev)
        # The points go to whoever holds the resident's registration now (the new key after a recovery). Contracts
        # before `creditedTo` credited the resident itself: a refund to a key recovered away then shows as a
        # mint to a non-resident.
        credited = a.get("creditedTo", a["resident"])
        if "creditedTo" in a and credited != st.current_account(rec["resident"]):
            self.problem(VIOLATION, "refund-credited-elsewhere", f"refund credited {credited}, the resident's "
                                                                 f"account now is "
                                                                 f"{st.current_account(rec['resident'])}", ev)
        if ev.timestamp > rec["redeemedAt"] + st.refund_window:
            self.problem(VIOLATION, "refund-window", "refund after the window closed", ev,
                         refundableUntil=rec["redeemedAt"] + st.refund_window)
        before, total = rec["refunded"], rec["refunded"] + a["credits"]
        self._expect(ev, "refunded-total", "refunded total", a["refundedTotal"], total)
        if a["credits"] == 0 or total > rec["credits"]:
            self.problem(VIOLATION, "refund-too-large", f"refund takes the total to {total} of {rec['credits']}", ev)
        rec["refunded"] = total
        given, later = [], 0
        for scheme, points, part_credits in reversed(rec["parts"]):
            old = _clamp(before, later, part_credits)
            new = _clamp(total, later, part_credits)
            later += part_credits
            if new - old == 0:
                continue
            given.append((scheme, points * new // part_credits - points * old // part_credits, new - old))
        parts = [tuple(p) for p in a["parts"]]
        self._expect(ev, "refund-parts", "parts given back", parts, given)
        redemption = self.contracts.get("Redemption")
        for scheme, points, part_credits in parts:
            if points:
                item = (scheme, credited, points, rid, redemption)
                self._consume(ev, tx.restores if item in tx.restores or item not in tx.mints else tx.mints, item,
                              "refund-mint")
            self._consume(ev, tx.mpos, (scheme, rec["merchant"], -part_credits), "refund-position")
            st.totals[scheme]["refunded"] += points
        if self.detector is not None:
            self.detector.on_refund(rec["merchant"], a["credits"], ev.timestamp, ev.tx, ev.block)

    def on_Redemption__PreferredOrderSet(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        self._spend_nonce(ev, tx, a["resident"], a["nonce"])
        schemes = list(a["schemes"])
        if len(set(schemes)) != len(schemes) or any(s not in st.schemes for s in schemes):
            self.problem(VIOLATION, "invalid-order", f"preferred order {schemes} repeats or names unknown schemes", ev)
        st.preferred[a["resident"]] = schemes
        self.intents.append({"type": "PreferredOrder", "contract": ev.address, "tx": ev.tx, "block": ev.block,
                             "resident": a["resident"], "schemes": schemes, "nonce": a["nonce"],
                             "timestamp": ev.timestamp})

    def on_Redemption__RefundWindowSet(self, ev: Event, tx: Tx) -> None:
        self.state.refund_window = ev.args["windowSeconds"]

    def _consume(self, ev: Event, items: list, item: tuple, code: str) -> None:
        try:
            items.remove(item)
        except ValueError:
            self.problem(MISMATCH, code, f"{ev.name}: no matching ledger/clearing event for {item}", ev,
                         expected=item, present=list(items))


def _clamp(refunded: int, later: int, cap: int) -> int:
    if refunded <= later:
        return 0
    return min(refunded - later, cap)
