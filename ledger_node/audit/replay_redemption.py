"""The audit replay's redemption handlers: Exchange (exchanges, pairs, daily limit) and Redemption (redemptions
taking exactly their signed plans, refunds, preferred orders, refund window), and the nonces both spend: each
intent's own event names its nonce (the contracts before issue 25 also emitted NonceUsed, still read). Exchange's
nonces are numbers used within a window below the highest (checked on a chain whose Exchange numbers them: run.py
asks it; a former layout's are random).

Exact change (issue 27): every part of a redemption or refund and every side of an exchange must conserve value
in value units (credit cents x RATE_SCALE) at the rate in force, with the change the replay holds per (scheme,
account) from ChangeUpdated; a difference is a "conservation" violation with its figures.

Each Exchanged, Redeemed and Refunded takes from its transaction the ledger-operator burns, mints and restores
(replay_issuance) and the clearing moves (replay_clearing) it explains; Exchanged, Redeemed and PreferredOrderSet
leave an intent whose signer signatures.py checks against the calldata.
"""
from __future__ import annotations

from ledger_node.audit.events import Event
from ledger_node.audit.model import MISMATCH, UNVERIFIABLE, VIOLATION
from ledger_node.audit.replay_tx import Tx
from ledger_node.audit.state import State
from ledger_node.domain import (EXCHANGE_NONCE_WINDOW, RATE_SCALE, ROLES, SPENDABLE, UINT64_MAX,
                                 redemption_id)

MAX_PARTS = 16  # Redemption.MAX_PARTS (compared with the contract in tests)


class RedemptionHandlers:
    """Exchange and Redemption events; mixed into replay.Replayer, which supplies `state`, `problem`,
    `_expect`, `contracts`, `intents` and `detector`."""

    state: State

    # ------------------------------------------------------------------------------------------------
    # Exchange and Redemption
    # ------------------------------------------------------------------------------------------------

    def _on_nonce(self, ev: Event, tx: Tx) -> None:
        """NonceUsed, which contracts before issue 25 emitted before each intent's own event: the nonce is spent here
        and left on the transaction for the intent's event (a NonceUsed no intent explains is reported)."""
        self._use_nonce(ev, ev.args["resident"], ev.args["nonce"])
        tx.nonces.append((ev.contract, ev.args["resident"], ev.args["nonce"]))

    on_Exchange__NonceUsed = _on_nonce
    on_Redemption__NonceUsed = _on_nonce

    def _spend_nonce(self, ev: Event, tx: Tx, resident: str, nonce: str) -> None:
        """An intent's event (Redeemed, Exchanged, PreferredOrderSet) spends its nonce: each (resident, nonce) once
        per contract (a redemption's and a preferred order's share Redemption's). A former layout's NonceUsed of the
        same transaction spent it already."""
        key = (ev.contract, resident, nonce)
        if key in tx.nonces:
            tx.nonces.remove(key)
        else:
            self._use_nonce(ev, resident, nonce)

    def _use_nonce(self, ev: Event, resident: str, nonce: str) -> None:
        used = self.state.nonces[ev.contract]
        if (resident, nonce) in used:
            self.problem(VIOLATION, "nonce-reused", f"{ev.contract}: nonce {nonce} of {resident} spent twice", ev)
        used.add((resident, nonce))

    def _in_window(self, ev: Event, resident: str, nonce: str) -> None:
        """Exchange's nonce rule (IExchange): a number from 1 to 2**64-1, taken at most EXCHANGE_NONCE_WINDOW below
        the highest the resident used (taken twice: nonce-reused)."""
        n, top = int(nonce, 16), self.state.exchange_top
        if not 0 < n <= UINT64_MAX:
            self.problem(VIOLATION, "nonce-out-of-range", f"Exchange: nonce {nonce} of {resident} is not a number "
                                                          f"from 1 to 2**64-1", ev)
        elif n > top.get(resident, 0):
            top[resident] = n
        elif top[resident] - n > EXCHANGE_NONCE_WINDOW:
            self.problem(VIOLATION, "nonce-below-window", f"Exchange: nonce {n} of {resident} is more than "
                                                          f"{EXCHANGE_NONCE_WINDOW} below the highest it used "
                                                          f"({top[resident]})", ev, highest=top[resident])

    def on_Exchange__Exchanged(self, ev: Event, tx: Tx) -> None:
        """Exact change (IExchange): each side conserves value at the rates in force, the credits are the whole cents
        of what was taken (points and change), the rest stays as change, and every burn, mint and change moved is
        the event's."""
        st, a = self.state, ev.args
        resident, frm, to, points = a["resident"], a["fromScheme"], a["toScheme"], a["points"]
        credits, received = a["credits"], a["received"]
        self._spend_nonce(ev, tx, resident, a["nonce"])
        if st.exchange_top is not None:
            self._in_window(ev, resident, a["nonce"])
        if (frm, to) not in st.pairs:
            self.problem(VIOLATION, "pair-not-allowed", f"exchange {frm} -> {to} is not an allowed pair", ev)
        taken, given = _side(a["taken"]), _side(a["given"])
        rf, rt = st.rates.get(frm, 0), st.rates.get(to, 0)
        if not rf or not rt:
            self.problem(VIOLATION, "no-rate", f"exchange {frm} -> {to} without a rate in force", ev)
        scaled = credits * RATE_SCALE
        self._expect(ev, "exchange-points", "points taken", taken["points"], points)
        self._expect(ev, "exchange-received", "points given", given["points"], received)
        if taken["value"] != points * rf or given["value"] != received * rt:
            self.problem(VIOLATION, "exchange-value", f"exchange sides worth {taken['value']} and {given['value']}, "
                                                      f"not the points at the rates in force ({rf}, {rt})", ev,
                         taken=taken, given=given, rateFrom=rf, rateTo=rt)
        if taken["value"] + taken["changeBefore"] != scaled + taken["changeAfter"] or taken["changeAfter"] >= RATE_SCALE:
            self.problem(VIOLATION, "conservation", f"exchange: taken {taken['value']} + change "
                                                    f"{taken['changeBefore']} is not {credits} credit cents "
                                                    f"+ change {taken['changeAfter']} below a cent", ev,
                         side="taken", credits=credits, **taken)
        if scaled + given["changeBefore"] != given["value"] + given["changeAfter"] or (
                rt and given["changeAfter"] >= rt):
            self.problem(VIOLATION, "conservation", f"exchange: {credits} credit cents + change "
                                                    f"{given['changeBefore']} is not {given['value']} given + change "
                                                    f"{given['changeAfter']} below a point", ev,
                         side="given", credits=credits, rate=rt, **given)
        if received == 0:
            self.problem(VIOLATION, "exchange-nothing", "exchange gave nothing", ev)
        day = st.today(ev.timestamp)
        usage = st.usage.get(resident)
        used = usage[1] if usage and usage[0] == day else 0
        used += credits
        st.usage[resident] = [day, used]
        self._expect(ev, "exchange-used-today", f"credits {resident} exchanged today", a["usedTodayAfter"], used)
        if used > st.daily_limit:
            self.problem(VIOLATION, "exchange-limit-exceeded", f"{resident} exchanged {used} credit cents today, over "
                                                               f"the limit {st.daily_limit}", ev)
        ref = redemption_id(resident, bytes.fromhex(a["nonce"][2:]))
        exchange = self.contracts.get("Exchange")
        self._consume(ev, tx.burns, (frm, resident, points, ref, exchange), "exchange-burn")
        if received:
            self._consume(ev, tx.mints, (to, resident, received, ref, exchange), "exchange-mint")
        self._change_moved(ev, tx, frm, resident, taken, ref, exchange)
        self._change_moved(ev, tx, to, resident, given, ref, exchange)
        self._consume(ev, tx.ipos, (frm, to, credits), "exchange-position")
        self.intents.append({"type": "ExchangeIntent", "contract": ev.address, "tx": ev.tx, "block": ev.block,
                             "resident": resident, "fromScheme": frm, "toScheme": to, "points": points,
                             "nonce": a["nonce"], "received": received,
                             "timestamp": ev.timestamp})
        st.totals[frm]["exchangedOut"] += points
        st.totals[to]["exchangedIn"] += received
        if self.detector is not None:
            self.detector.on_exchange(resident, frm, to, points, received, credits, ev.timestamp, ev.tx,
                                      ev.block)

    def on_Exchange__PairAllowed(self, ev: Event, tx: Tx) -> None:
        pair = (ev.args["fromScheme"], ev.args["toScheme"])
        (self.state.pairs.add if ev.args["allowed"] else self.state.pairs.discard)(pair)

    def on_Exchange__DailyLimitSet(self, ev: Event, tx: Tx) -> None:
        self.state.daily_limit = ev.args["limit"]

    def on_Redemption__Redeemed(self, ev: Event, tx: Tx) -> None:
        """Exact change (IRedemption): the chain took exactly the signed plan. Every part: scheme spendable with the
        rate in force, value == points * rate, `value + changeBefore == credits * 1e6 + changeAfter` with
        changeBefore the replayed change, and its points not a whole point more than its credits; the parts add up
        to the price; the burns, change moves and merchant positions are the parts'."""
        st, a = self.state, ev.args
        rid, resident, merchant, credits = a["redemptionId"], a["resident"], a["merchant"], a["credits"]
        parts = [_part(p) for p in a["parts"]]
        self._spend_nonce(ev, tx, resident, a["nonce"])
        expected_id = redemption_id(resident, bytes.fromhex(a["nonce"][2:]))
        self._expect(ev, "redemption-id", "redemption id", rid, expected_id)
        if merchant not in st.merchants or st.merchants[merchant]:
            self.problem(VIOLATION, "merchant-not-active", f"{merchant} is not an active merchant", ev)
        schemes = [p["scheme"] for p in parts]
        if not parts or len(parts) > MAX_PARTS or len(set(schemes)) != len(schemes) or any(
                p["credits"] == 0 for p in parts):
            self.problem(VIOLATION, "invalid-plan", f"plan of {len(parts)} parts (1 to {MAX_PARTS}, distinct schemes, "
                                                    f"each paying credits) is not one the chain takes", ev,
                         parts=parts)
        if sum(p["credits"] for p in parts) != credits:
            self.problem(VIOLATION, "parts-sum", f"parts add up to {sum(p['credits'] for p in parts)}, not {credits}",
                         ev)
        redemption = self.contracts.get("Redemption")
        value_before = 0
        for p in parts:
            scheme, points, part_credits = p["scheme"], p["points"], p["credits"]
            info, rate = st.schemes.get(scheme), st.rates.get(scheme, 0)
            if info is None or info["status"] not in SPENDABLE or st.paused:
                self.problem(VIOLATION, "part-not-spendable", f"part of scheme {scheme} while it was not spendable",
                             ev, scheme=scheme)
            if rate == 0:
                self.problem(VIOLATION, "no-rate", f"part of scheme {scheme} without a rate in force", ev,
                             scheme=scheme)
            if p["value"] != points * rate:
                self.problem(VIOLATION, "conservation", f"part of scheme {scheme}: {points} points are worth "
                                                        f"{points * rate} at the rate in force {rate}, the event "
                                                        f"says {p['value']}", ev, rate=rate, **p)
            if p["value"] + p["changeBefore"] != part_credits * RATE_SCALE + p["changeAfter"]:
                self.problem(VIOLATION, "conservation", f"part of scheme {scheme}: value {p['value']} + change "
                                                        f"{p['changeBefore']} is not {part_credits} credit cents + "
                                                        f"change {p['changeAfter']}", ev, rate=rate, **p)
            if points and (points - 1) * rate >= part_credits * RATE_SCALE:
                self.problem(VIOLATION, "part-takes-too-much", f"part of scheme {scheme} burns {points} points at "
                                                               f"{rate}, a whole point more than its {part_credits} "
                                                               f"credit cents need", ev, rate=rate, **p)
            if points:
                self._consume(ev, tx.burns, (scheme, resident, points, rid, redemption), "redemption-burn")
            self._change_moved(ev, tx, scheme, resident, p, rid, redemption)
            self._consume(ev, tx.mpos, (scheme, merchant, part_credits), "redemption-position")
        for scheme in st.scheme_order:  # what the resident's points and change were worth before (for patterns)
            info, rate = st.schemes[scheme], st.rates.get(scheme, 0)
            if info["status"] in SPENDABLE and rate:
                p = next((p for p in parts if p["scheme"] == scheme), None)
                bal = st.balances.get((scheme, resident), 0) + (p["points"] if p else 0)
                change = p["changeBefore"] if p else st.change.get((scheme, resident), 0)
                value_before += (bal * rate + change) // RATE_SCALE
        if rid in st.redemptions:
            self.problem(VIOLATION, "redemption-twice", f"redemption {rid} recorded twice", ev)
        signed = [[p["scheme"], p["points"], p["credits"]] for p in parts]
        st.redemptions[rid] = {"resident": resident, "merchant": merchant, "credits": credits, "refunded": 0,
                               "parts": signed, "partsRefunded": [0] * len(parts), "redeemedAt": ev.timestamp}
        self.intents.append({"type": "RedemptionConsent", "contract": ev.address, "tx": ev.tx, "block": ev.block,
                             "resident": resident, "merchant": merchant, "credits": credits, "parts": signed,
                             "orderRef": a["orderRef"], "nonce": a["nonce"], "timestamp": ev.timestamp,
                             "relayers": sorted(st.roles.get(ROLES["RELAYER"], ()))})
        for p in parts:
            totals = st.totals[p["scheme"]]
            totals["redeemed"] += p["points"]
            totals["redeemedCredits"] += p["credits"]
        if self.detector is not None:
            reg = st.residents.get(resident, {}).get("registeredAt")
            self.detector.on_redeem(resident, merchant, credits, value_before, reg, ev.timestamp, ev.tx, ev.block)

    def _change_moved(self, ev: Event, tx: Tx, scheme: int, account: str, side: dict, ref: str,
                      operator: str | None) -> None:
        """A part's or side's change: its move is the ChangeUpdated of this transaction (none when it did not
        move), and the replayed change is now its changeAfter."""
        before, after = side["changeBefore"], side["changeAfter"]
        if before != after:
            item = (scheme, account, before, after, ref, operator)
            try:
                tx.changes.remove(item)
            except ValueError:
                self.problem(VIOLATION, "conservation", f"{ev.name}: change of {account} in scheme {scheme} "
                                                        f"{before} -> {after} has no ChangeUpdated", ev,
                             expected=item, present=list(tx.changes))
        held = self.state.change.get((scheme, account), 0)
        if held != after:
            self.problem(VIOLATION, "conservation", f"{ev.name}: change of {account} in scheme {scheme} is {held} "
                                                    f"(replayed), the event says {after}", ev, scheme=scheme,
                         account=account, replayed=held, event=after)

    def on_Redemption__Refunded(self, ev: Event, tx: Tx) -> None:
        """A refund: shares of the signed parts from the last part to the first, each given back as value at the
        rate then (`credits * 1e6 + changeBefore == value + changeAfter`, whole points and less than a point of
        change), never more per part than the redemption took, to the resident's current account."""
        st, a = self.state, ev.args
        rid = a["redemptionId"]
        rec = st.redemptions.get(rid)
        if rec is None:
            self.problem(VIOLATION, "refund-unknown", f"refund of unknown redemption {rid}", ev)
            return
        if any(len(p) != 6 for p in a["parts"]):
            self.problem(UNVERIFIABLE, "refund-former-layout", "a refund in the layout before exact change cannot be "
                                                               "checked against exact-change redemptions", ev)
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
        shares, later = [], 0
        for scheme, _, part_credits in reversed(rec["parts"]):
            share = _clamp(total, later, part_credits) - _clamp(before, later, part_credits)
            later += part_credits
            if share:
                shares.append([scheme, share])
        parts = [_part(p) for p in a["parts"]]
        self._expect(ev, "refund-parts", "parts given back (scheme, credits)",
                     [[p["scheme"], p["credits"]] for p in parts], shares)
        refunded = rec.setdefault("partsRefunded", [0] * len(rec["parts"]))
        index = {signed[0]: i for i, signed in enumerate(rec["parts"])}
        redemption = self.contracts.get("Redemption")
        for p in parts:
            scheme, points, part_credits = p["scheme"], p["points"], p["credits"]
            rate = st.rates.get(scheme, 0)
            if p["value"] != points * rate or (rate and p["changeAfter"] >= rate) or (not rate and points):
                self.problem(VIOLATION, "conservation", f"refund part of scheme {scheme}: {points} points worth "
                                                        f"{p['value']} and change {p['changeAfter']} are not whole "
                                                        f"points and less than a point at the rate then {rate}", ev,
                             rate=rate, **p)
            if part_credits * RATE_SCALE + p["changeBefore"] != p["value"] + p["changeAfter"]:
                self.problem(VIOLATION, "conservation", f"refund part of scheme {scheme}: {part_credits} credit cents "
                                                        f"+ change {p['changeBefore']} is not value {p['value']} + "
                                                        f"change {p['changeAfter']}", ev, rate=rate, **p)
            i = index.get(scheme)
            if i is None:
                self.problem(VIOLATION, "refund-parts", f"refund gives back scheme {scheme}, not a part of the "
                                                        f"redemption", ev, scheme=scheme)
            else:
                refunded[i] += part_credits
                if refunded[i] > rec["parts"][i][2]:
                    self.problem(VIOLATION, "refund-exceeds-taken", f"refunds of the scheme-{scheme} part give back "
                                                                    f"{refunded[i]} credit cents' worth, the "
                                                                    f"redemption took {rec['parts'][i][2]}", ev,
                                 scheme=scheme, refunded=refunded[i], taken=rec["parts"][i][2])
            if points:
                item = (scheme, credited, points, rid, redemption)
                self._consume(ev, tx.restores if item in tx.restores or item not in tx.mints else tx.mints, item,
                              "refund-mint")
            self._change_moved(ev, tx, scheme, credited, p, rid, redemption)
            self._consume(ev, tx.mpos, (scheme, rec["merchant"], -part_credits), "refund-position")
            st.totals[scheme]["refunded"] += points
            st.totals[scheme]["refundedCredits"] += part_credits
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


def _part(p) -> dict:
    """A PartValue (scheme, points, value, credits, changeBefore, changeAfter) as a dict."""
    return dict(zip(("scheme", "points", "value", "credits", "changeBefore", "changeAfter"), p))


def _side(s) -> dict:
    """A SideValue (points, value, changeBefore, changeAfter) as a dict."""
    return dict(zip(("points", "value", "changeBefore", "changeAfter"), s))


def _clamp(refunded: int, later: int, cap: int) -> int:
    if refunded <= later:
        return 0
    return min(refunded - later, cap)
