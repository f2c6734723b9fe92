"""The audit replay's ledger handlers: PointsLedger (issuance, revocation, ledger-operator mints, burns and
restores, account moves, expiry, schemes, quotas, caps, pause, day offset) and Rates.

Each balance change takes the TransferSingle its transaction emitted for it; a ledger operator's mint, burn or
restore is left on the transaction (`Tx.mints`, `Tx.burns`, `Tx.restores`) for the Exchanged, Redeemed or
Refunded event that explains it (replay_redemption).

Expiring schemes (ledger_node/expiry.py): every credit is booked in its month, every debit takes the oldest live
month first, and a debit must follow the sweep of whatever had expired (a `PointsExpired` of exactly the account's
balance less its live points): expired points are never spent, revoked or moved.
"""
from __future__ import annotations

from ledger_node import expiry
from ledger_node.audit.events import Event
from ledger_node.audit.model import MISMATCH, UNVERIFIABLE, VIOLATION
from ledger_node.domain import held_account_of
from ledger_node.issuance_refs import SequenceWindow
from ledger_node.audit.replay_tx import Tx
from ledger_node.rules_documents import RulesLibrary
from ledger_node.audit.state import ACTIVE, ELIGIBILITY_ONLY, NONE, PAUSED, RETIRED, State


class IssuanceHandlers:
    """PointsLedger and Rates events; mixed into replay.Replayer, which supplies `state`, `problem`,
    `_expect` and `detector`."""

    state: State
    rules_library: RulesLibrary

    # ------------------------------------------------------------------------------------------------
    # PointsLedger
    # ------------------------------------------------------------------------------------------------

    def on_PointsLedger__IssuanceRulesCited(self, ev: Event, tx: Tx) -> None:
        """A batch cites a published version: the chain checked it against the registry, the replay checks it
        against the RulesPublished it saw; the PointsIssued that follows takes the citation."""
        st, a = self.state, ev.args
        scheme, version, cited = a["scheme"], a["rulesVersion"], _hex(a["rulesHash"])
        versions = st.rules.get(scheme, [])
        published = _hex(versions[version - 1]["rulesHash"]) if 0 < version <= len(versions) else None
        if published != cited:
            self.problem(MISMATCH, "citation-not-published", f"scheme {scheme} issuance cites rules version {version} "
                                                             f"(sha256 {cited}), which the registry did not publish "
                                                             f"so", ev, logIndex=ev.log_index, scheme=scheme,
                         version=version, cited=cited, published=published)
        tx.citation = (scheme, a["issuer"], version, cited, ev)

    def on_PointsLedger__PointsIssued(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        scheme, issuer = a["scheme"], a["issuer"]
        info = st.schemes.get(scheme)
        if issuer not in st.issuers.get(scheme, ()):
            self.problem(VIOLATION, "issued-by-non-issuer", f"{issuer} issued scheme {scheme} without being one "
                                                            f"of its issuer accounts", ev, issuer=issuer, scheme=scheme)
        if info is None or info["status"] != ACTIVE or st.paused:
            self.problem(VIOLATION, "issued-while-not-active", f"scheme {scheme} issued while "
                                                               f"{'paused ledger' if st.paused else 'not active'}", ev)
            info = info or {"status": NONE, "quota": 0, "cap": 0, "quotaDay": 0, "issuedToday": 0}
        today = st.today(ev.timestamp)
        quota_day, used = info["quotaDay"], info["issuedToday"]
        if today > quota_day:
            quota_day, used = today, 0
        self._expect(ev, "issuance-day", "quota day", a["day"], quota_day)
        quota, cap = info["quota"], info["cap"]
        refs = a["refs"]
        skipped = set(a["skipped"])
        table, citation = self._citation_for(ev, tx, scheme, issuer)
        codes = a["reasonCodes"]
        broken = []  # (item, ref, resident, reason, amount, code, expected) of cited entries that break their rule
        used_refs = st.refs[scheme]
        transfers = tx.transfers
        expected_items = len(refs) - len(skipped)
        if len(transfers) != expected_items:
            self.problem(MISMATCH, "issuance-transfers", f"PointsIssued has {expected_items} issued items but the "
                                                         f"call emitted {len(transfers)} TransferSingle", ev)
        balances, received, residents, holdings = st.balances, st.received, st.residents, st.holdings
        balances_after = a["balancesAfter"]
        k = issued = 0
        bad_after = []
        filled = []  # (item's position among those issued, resident) of the items that reached the daily cap
        n_transfers = len(transfers)
        take = SequenceWindow(st.windows[scheme]).take
        buckets, month = st.buckets, expiry.month_of_day(today) if info.get("expiry") else None
        for i, ref in enumerate(refs):  # once per issued item of the chain: kept lean
            fresh = take(bytes.fromhex(ref[2:]))
            if skipped and i in skipped:
                if fresh:
                    self.problem(VIOLATION, "skipped-fresh-ref", f"item {i} skipped but its sequence number in {ref} "
                                                                 "was free in the window", ev)
                continue
            if not fresh:
                self.problem(VIOLATION, "ref-reused", f"item {i} issued with a sequence number used before or behind "
                                                      f"its window ({ref})", ev, ref=ref)
            event_id = ref[18:]
            if event_id in used_refs:
                self.problem(VIOLATION, "ref-reissued", f"item {i}: the issuer's event id of {ref} was issued before "
                                                        "under another sequence number", ev, ref=ref)
            used_refs.add(event_id)
            if k >= n_transfers:
                break
            t = transfers[k]
            k += 1
            to, amount = t["to"], t["value"]
            if t["from"] != _ZERO or t["id"] != scheme or t["operator"] != issuer:
                self.problem(MISMATCH, "issuance-transfer", f"item {i}: TransferSingle does not match the issuance",
                             ev, transfer=t)
            if to not in residents and to not in holdings:
                self.problem(VIOLATION, "issued-to-non-resident", f"item {i}: {to} is not a registered resident "
                                                                  f"nor a holding for one to come", ev, account=to)
            if amount == 0:
                self.problem(VIOLATION, "zero-amount", f"item {i} issued zero points", ev)
            if table is not None:
                reason = codes[i] if codes else None
                wrong = table.check(reason, amount) if reason is not None else ("entry-cites-no-rule", "a reason code")
                if wrong is not None:
                    broken.append((i, ref, to, reason, amount, *wrong))
            key = (scheme, to)
            rec = received.get(key)
            if rec is None:
                rec = received[key] = [today, 0]
            elif today > rec[0]:
                rec[0], rec[1] = today, 0
            rec[1] += amount
            if rec[1] >= cap:
                filled.append((k - 1, to))
                if rec[1] > cap:
                    self.problem(VIOLATION, "resident-cap-exceeded", f"{to} received {rec[1]} of scheme {scheme} on "
                                                                     f"day {rec[0]}, over the cap {cap}", ev,
                                 account=to, received=rec[1], cap=cap)
            used += amount
            issued += amount
            bal = balances.get(key, 0) + amount
            balances[key] = bal
            if month is not None:  # an expiring scheme: the item is booked in this month
                b = buckets.setdefault(key, {})
                b[month] = b.get(month, 0) + amount
            if balances_after[i] != bal:
                bad_after.append((i, to, balances_after[i], bal))
        if self.detector is not None and k:
            issued_to = [t["to"] for t in transfers[:k]] if self.detector.wants_residents() else ()
            self.detector.on_issues(scheme, issuer, k, filled, cap, ev.timestamp, ev.tx, ev.block, issued_to)
        del transfers[:k]
        if citation is not None:
            self._cited(ev, scheme, citation, table, broken, expected_items)
        elif st.rules.get(scheme) and expected_items:
            self._uncited(ev, scheme, expected_items, issued)
        for i, to, got, want in bad_after[:20]:
            self.problem(MISMATCH, "balance-after", f"item {i}: balance after of {to} in scheme {scheme} is {got} in "
                                                    f"PointsIssued, {want} rebuilt", ev, account=to, scheme=scheme,
                         event=got, rebuilt=want)
        if used > quota:
            self.problem(VIOLATION, "issuer-quota-exceeded", f"scheme {scheme} issued {used} on day {quota_day}, over "
                                                             f"the issuer quota {quota}", ev, used=used, quota=quota)
        st.supply[scheme] = st.supply.get(scheme, 0) + issued
        info["quotaDay"], info["issuedToday"] = quota_day, used
        self._expect(ev, "issued-amount", "issued amount", a["issuedAmount"], issued)
        self._expect(ev, "quota-used-after", "quota used after", a["quotaUsedAfter"], used)
        self._expect(ev, "total-supply-after", f"total supply of scheme {scheme}", a["totalSupplyAfter"],
                     st.supply[scheme])
        st.totals[scheme]["issued"] += issued
        st.totals[scheme]["issuedItems"] += expected_items
        st.totals[scheme]["skippedItems"] += len(skipped)

    def _citation_for(self, ev: Event, tx: Tx, scheme: int, issuer: str):
        """(rule table or None, citation or None) of this PointsIssued: the IssuanceRulesCited its call emitted
        first, and the published document it names when the audit holds it (else one problem a version)."""
        citation, tx.citation = tx.citation, None
        if citation is None:
            return None, None
        c_scheme, c_issuer, version, sha, cited_ev = citation
        if (c_scheme, c_issuer) != (scheme, issuer):
            self.problem(MISMATCH, "citation-mismatch", f"IssuanceRulesCited names scheme {c_scheme} and issuer "
                                                        f"{c_issuer}, its PointsIssued scheme {scheme} and issuer "
                                                        f"{issuer}", ev, logIndex=cited_ev.log_index)
            return None, None
        table = self.rules_library.get(sha)
        if table is None:
            unknown = self.state.citations_of(scheme)["unknown"]
            if version not in unknown:  # once a version: every batch citing it is equally unchecked
                unknown.append(version)
                known = self.rules_library.for_scheme(scheme)
                code = "rules-document-differs" if known else "rules-document-unknown"
                why = (f"the audit's documents for scheme {scheme} hash to {', '.join(known)}, none to {sha}" if known
                       else f"the audit holds no document with sha256 {sha} (give it with --rules DIR)")
                self.problem(UNVERIFIABLE, code, f"scheme {scheme} rules version {version} is cited but its entries "
                                                 f"cannot be checked: {why}", ev, logIndex=cited_ev.log_index,
                             scheme=scheme, version=version, rulesHash=sha, known=known)
        return table, citation

    def _cited(self, ev: Event, scheme: int, citation: tuple, table, broken: list, items: int) -> None:
        version, sha = citation[2], citation[3]
        cited = self.state.citations_of(scheme)["cited"]
        cited[str(version)] = cited.get(str(version), 0) + items
        for i, ref, to, reason, amount, code, expected in broken[:MAX_BROKEN_SHOWN]:
            what = "cites no rule of" if code == "entry-cites-no-rule" else "breaks its rule in"
            self.problem(VIOLATION, code, f"item {i} ({amount} points to {to}, reason {reason}) {what} scheme "
                                          f"{scheme}'s rules version {version}", ev, logIndex=ev.log_index, item=i,
                         ref=ref, resident=to, reason=reason, found=amount, expected=expected, scheme=scheme,
                         version=version, rulesHash=sha)
        if len(broken) > MAX_BROKEN_SHOWN:
            self.problem(VIOLATION, "more-entries-break-rules", f"{len(broken) - MAX_BROKEN_SHOWN} more entries of "
                                                                f"this batch break scheme {scheme}'s rules version "
                                                                f"{version}", ev, logIndex=ev.log_index,
                         count=len(broken))

    def _uncited(self, ev: Event, scheme: int, items: int, amount: int) -> None:
        """Issuance that cites nothing in a scheme that has published rules: allowed (the old entry points stay),
        reported per scheme as a finding (run.py) with its first and last batch."""
        c = self.state.citations_of(scheme)
        u = c["uncited"]
        if u is None:
            u = c["uncited"] = {"batches": 0, "items": 0, "amount": 0, "firstBlock": ev.block, "firstTx": ev.tx,
                                "firstLogIndex": ev.log_index}
        u["batches"] += 1
        u["items"] += items
        u["amount"] += amount
        u["lastBlock"], u["lastTx"], u["lastLogIndex"] = ev.block, ev.tx, ev.log_index

    def on_PointsLedger__PointsRevoked(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        scheme, resident = a["scheme"], a["resident"]
        if a["issuer"] not in st.issuers.get(scheme, ()):
            self.problem(VIOLATION, "revoked-by-non-issuer", f"{a['issuer']} revoked scheme {scheme}", ev)
        self._spendable(ev, scheme)
        if not SequenceWindow(st.windows[scheme]).take(bytes.fromhex(a["ref"][2:])):
            self.problem(VIOLATION, "ref-reused", f"revocation ref {a['ref']} used before or behind its window", ev)
        self._burn(ev, tx, scheme, resident, a["amount"], a["issuer"], a["balanceAfter"], a["totalSupplyAfter"])
        st.totals[scheme]["revoked"] += a["amount"]

    def on_PointsLedger__RevocationSkipped(self, ev: Event, tx: Tx) -> None:
        a = ev.args
        if SequenceWindow(self.state.windows[a["scheme"]]).take(bytes.fromhex(a["ref"][2:])):
            self.problem(VIOLATION, "skipped-fresh-ref", f"revocation skipped but the sequence number in {a['ref']} "
                                                         "was free in the window", ev)

    def on_PointsLedger__PointsMinted(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        scheme, account, op = a["scheme"], a["account"], a["operator"]
        if not st.has_role("LEDGER_OPERATOR", op):
            self.problem(VIOLATION, "minted-by-non-operator", f"{op} minted without LEDGER_OPERATOR_ROLE", ev)
        info = st.schemes.get(scheme)
        if info is None or info["status"] != ACTIVE or st.paused:
            self.problem(VIOLATION, "minted-while-not-active", f"scheme {scheme} minted while not active", ev)
        if account not in st.residents:
            self.problem(VIOLATION, "minted-to-non-resident", f"{account} is not a registered resident", ev)
        self._credit(ev, tx, scheme, account, op)
        tx.mints.append((scheme, account, a["amount"], a["ref"], op))
        st.totals[scheme]["minted"] += a["amount"]

    def on_PointsLedger__PointsRestored(self, ev: Event, tx: Tx) -> None:
        """A refund giving back burned points: allowed in an Active, Paused or Retired scheme, not while the ledger
        is paused, only to a registered resident, only by a ledger operator, and only with its Refunded."""
        st, a = self.state, ev.args
        scheme, account, op = a["scheme"], a["account"], a["operator"]
        if not st.has_role("LEDGER_OPERATOR", op):
            self.problem(VIOLATION, "restored-by-non-operator", f"{op} restored without LEDGER_OPERATOR_ROLE", ev)
        info = st.schemes.get(scheme)
        if info is None or info["status"] == NONE or st.paused:
            why = "the ledger was paused" if st.paused else "unknown"
            self.problem(VIOLATION, "restored-while-not-allowed", f"scheme {scheme} restored while {why}", ev)
        if account not in st.residents:
            self.problem(VIOLATION, "restored-to-non-resident", f"{account} is not a registered resident", ev)
        self._credit(ev, tx, scheme, account, op)
        tx.restores.append((scheme, account, a["amount"], a["ref"], op))

    def _credit(self, ev: Event, tx: Tx, scheme: int, account: str, op: str) -> None:
        """Points added to `account` outside issuance (a mint, a refund's restore): its transfer, balance and supply,
        checked against the event's own after-values."""
        st, a = self.state, ev.args
        self._take_transfer(ev, tx, _ZERO, account, scheme, a["amount"], op)
        key = (scheme, account)
        bal = st.balances.get(key, 0) + a["amount"]
        st.balances[key] = bal
        if st.expiry_months(scheme):
            b = st.buckets.setdefault(key, {})
            month = expiry.month_of_day(st.today(ev.timestamp))
            b[month] = b.get(month, 0) + a["amount"]
        st.received.setdefault(key, [0, 0])
        st.supply[scheme] = st.supply.get(scheme, 0) + a["amount"]
        self._expect(ev, "balance-after", f"balance after of {account} in scheme {scheme}", a["balanceAfter"], bal)
        self._expect(ev, "total-supply-after", f"total supply of scheme {scheme}", a["totalSupplyAfter"],
                     st.supply[scheme])

    def on_PointsLedger__PointsBurned(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        scheme, account, op = a["scheme"], a["account"], a["operator"]
        if not st.has_role("LEDGER_OPERATOR", op):
            self.problem(VIOLATION, "burned-by-non-operator", f"{op} burned without LEDGER_OPERATOR_ROLE", ev)
        self._spendable(ev, scheme)
        self._burn(ev, tx, scheme, account, a["amount"], op, a["balanceAfter"], a["totalSupplyAfter"])
        tx.burns.append((scheme, account, a["amount"], a["ref"], op))
        st.totals[scheme]["burned"] += a["amount"]

    def on_PointsLedger__ChangeUpdated(self, ev: Event, tx: Tx) -> None:
        """An account's change in a scheme moved: only by a ledger operator, from the change the replay holds; it
        waits for the Exchanged / Redeemed / Refunded part or side that explains it (conservation)."""
        st, a = self.state, ev.args
        scheme, account, op = a["scheme"], a["account"], a["operator"]
        if not st.has_role("LEDGER_OPERATOR", op):
            self.problem(VIOLATION, "change-by-non-operator", f"{op} moved change without LEDGER_OPERATOR_ROLE", ev)
        key = (scheme, account)
        self._expect(ev, "change-before", f"change of {account} in scheme {scheme}", a["changeBefore"],
                     st.change.get(key, 0))
        st.change[key] = a["changeAfter"]
        tx.changes.append((scheme, account, a["changeBefore"], a["changeAfter"], a["ref"], op))

    def on_PointsLedger__HoldingOpened(self, ev: Event, tx: Tx) -> None:
        """Points held for a person who has not joined: at the account the hash derives (no one's key), for an
        identity that is no resident's yet."""
        st, a = self.state, ev.args
        identity, held = a["identityHash"], a["heldAccount"]
        derived = held_account_of(identity).lower()  # the replay keys accounts in lowercase
        if held != derived:
            self.problem(VIOLATION, "holding-not-derived", f"{held} is not the held account of identity {identity}",
                         ev, expected=derived)
        if any(r["identity"] == identity for r in st.residents.values()):
            self.problem(VIOLATION, "holding-for-resident", f"identity {identity} is a resident's: its points go to "
                                                            f"the resident's account", ev)
        st.holdings[held] = identity

    def on_PointsLedger__HoldingClaimed(self, ev: Event, tx: Tx) -> None:
        """The person joined: their registration (ResidentRegistered in this transaction, before) takes the holding;
        the AccountMoved events after it move its records."""
        st, a = self.state, ev.args
        identity, held, account = a["identityHash"], a["heldAccount"], a["account"]
        if st.holdings.pop(held, None) != identity:
            self.problem(VIOLATION, "holding-claim-unknown", f"{held} held nothing for identity {identity}", ev)
        if st.residents.get(account, {}).get("identity") != identity:
            self.problem(VIOLATION, "holding-claimed-by-other", f"{account} is not the resident of identity "
                                                                f"{identity}", ev, account=account)

    def on_PointsLedger__AccountMoved(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        scheme, old, new = a["scheme"], a["account"], a["newAccount"]
        self._take_transfer(ev, tx, old, new, scheme, a["balance"], None)
        key_old, key_new = (scheme, old), (scheme, new)
        self._expect(ev, "moved-balance", f"balance of {old} in scheme {scheme}", a["balance"],
                     st.balances.get(key_old, 0))
        if st.balances.get(key_new, 0) or key_new in st.received or st.change.get(key_new, 0):
            self.problem(VIOLATION, "move-to-nonempty", f"{new} already had a record in scheme {scheme}", ev)
        cut = self._unexpired(ev, scheme, old)
        if cut is not None:  # the live months move with the points
            st.buckets[key_new] = expiry.moved(st.buckets.pop(key_old, {}), cut)
        st.balances[key_new] = st.balances.pop(key_old, 0)
        if key_old in st.change:  # the whole record moves, change included
            st.change[key_new] = st.change.pop(key_old)
        if key_old in st.received:
            st.received[key_new] = st.received.pop(key_old)

    def on_PointsLedger__SchemeAdded(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        if a["scheme"] in st.schemes:
            self.problem(VIOLATION, "scheme-reused", f"scheme {a['scheme']} added twice", ev)
        st.schemes[a["scheme"]] = {"status": NONE, "quota": a["issuerDailyQuota"], "cap": a["residentDailyCap"],
                                   "quotaDay": 0, "issuedToday": 0}
        st.scheme_order.append(a["scheme"])
        st.supply.setdefault(a["scheme"], 0)

    def on_PointsLedger__SchemeStatusChanged(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        info = st.schemes.get(a["scheme"])
        if info is None:
            self.problem(VIOLATION, "unknown-scheme", f"status change of unknown scheme {a['scheme']}", ev)
            return
        self._expect(ev, "scheme-status", f"previous status of scheme {a['scheme']}", a["previous"], info["status"])
        allowed = {(NONE, ACTIVE), (ACTIVE, PAUSED), (PAUSED, ACTIVE), (ACTIVE, RETIRED), (PAUSED, RETIRED)}
        if (info["status"], a["status"]) not in allowed:
            self.problem(VIOLATION, "invalid-transition", f"scheme {a['scheme']}: {info['status']} -> {a['status']}",
                         ev)
        info["status"] = a["status"]

    def on_PointsLedger__IssuerDailyQuotaChanged(self, ev: Event, tx: Tx) -> None:
        self.state.schemes[ev.args["scheme"]]["quota"] = ev.args["quota"]

    def on_PointsLedger__ResidentDailyCapChanged(self, ev: Event, tx: Tx) -> None:
        self.state.schemes[ev.args["scheme"]]["cap"] = ev.args["cap"]

    def on_PointsLedger__SchemeExpiryChanged(self, ev: Event, tx: Tx) -> None:
        """An expiry is set on a scheme without points (every point then has its month), afterwards only shortened:
        a longer one, or none, would give expired points back to the accounts not swept yet."""
        st, a = self.state, ev.args
        scheme, months = a["scheme"], a["months"]
        info = st.schemes.get(scheme)
        if info is None:
            self.problem(VIOLATION, "unknown-scheme", f"expiry of unknown scheme {scheme}", ev)
            return
        current = info.get("expiry", 0)
        self._expect(ev, "scheme-expiry", f"previous expiry of scheme {scheme}", a["previousMonths"], current)
        allowed = (0 < months and st.supply.get(scheme, 0) == 0) if current == 0 else 0 < months < current
        if not allowed:
            self.problem(VIOLATION, "expiry-change-not-allowed", f"scheme {scheme}'s expiry went from {current} to "
                                                                 f"{months} months with {st.supply.get(scheme, 0)} "
                                                                 f"points in existence", ev, previous=current,
                         months=months, supply=st.supply.get(scheme, 0))
        info["expiry"] = months

    def on_PointsLedger__PointsExpired(self, ev: Event, tx: Tx) -> None:
        """A sweep: exactly the account's balance less its live points (its months from the cutoff on) leaves the
        balance and the supply, before the debit that follows."""
        st, a = self.state, ev.args
        scheme, account, amount = a["scheme"], a["account"], a["amount"]
        self._take_transfer(ev, tx, account, _ZERO, scheme, amount, None)
        key = (scheme, account)
        bal = st.balances.get(key, 0)
        months = st.expiry_months(scheme)
        if months:
            cut = expiry.cutoff(st.today(ev.timestamp), months)
            expected = bal - expiry.live(st.buckets.get(key, {}), cut, bal)
            expiry.prune(st.buckets.get(key, {}), cut)
        else:
            self.problem(VIOLATION, "expired-without-expiry", f"points of scheme {scheme} expired, a scheme whose "
                                                              "points never expire", ev, account=account)
            expected = 0
        self._expect(ev, "expired-amount", f"points of {account} expired in scheme {scheme}", amount, expected)
        bal -= amount
        st.balances[key] = bal
        st.supply[scheme] = st.supply.get(scheme, 0) - amount
        self._expect(ev, "balance-after", f"balance after of {account} in scheme {scheme}", a["balanceAfter"], bal)
        self._expect(ev, "total-supply-after", f"total supply of scheme {scheme}", a["totalSupplyAfter"],
                     st.supply[scheme])
        st.totals[scheme]["expired"] += amount

    def _unexpired(self, ev: Event, scheme: int, account: str) -> int | None:
        """Before a debit in an expiring scheme (None otherwise): nothing expired may be left in the balance (the
        chain sweeps first); returns the cutoff month."""
        st = self.state
        months = st.expiry_months(scheme)
        if not months:
            return None
        cut = expiry.cutoff(st.today(ev.timestamp), months)
        bal = st.balances.get((scheme, account), 0)
        left = bal - expiry.live(st.buckets.get((scheme, account), {}), cut, bal)
        if left:
            self.problem(VIOLATION, "expired-points-debited", f"{ev.name} of {account} in scheme {scheme} while "
                                                              f"{left} of its points had expired unswept", ev,
                         account=account, expired=left)
        return cut

    def on_PointsLedger__LedgerPauseChanged(self, ev: Event, tx: Tx) -> None:
        self.state.paused = ev.args["paused"]

    def on_PointsLedger__DayOffsetChanged(self, ev: Event, tx: Tx) -> None:
        self.state.day_offset = ev.args["offsetSeconds"]

    def _spendable(self, ev: Event, scheme: int) -> None:
        info = self.state.schemes.get(scheme)
        if info is None or info["status"] not in (ACTIVE, RETIRED) or self.state.paused:
            self.problem(VIOLATION, "burned-while-not-spendable", f"scheme {scheme} burned while not spendable", ev)

    def _burn(self, ev, tx, scheme, account, amount, operator, balance_after, supply_after) -> None:
        st = self.state
        self._take_transfer(ev, tx, account, _ZERO, scheme, amount, operator)
        key = (scheme, account)
        bal = st.balances.get(key, 0)
        if bal < amount:
            self.problem(VIOLATION, "burn-exceeds-balance", f"{account} burned {amount} of scheme {scheme} holding "
                                                            f"{bal} (rebuilt)", ev, balance=bal, amount=amount)
        cut = self._unexpired(ev, scheme, account)
        if cut is not None:
            expiry.debit(st.buckets.setdefault(key, {}), cut, amount)
        bal -= amount
        st.balances[key] = bal
        st.supply[scheme] = st.supply.get(scheme, 0) - amount
        self._expect(ev, "balance-after", f"balance after of {account} in scheme {scheme}", balance_after, bal)
        self._expect(ev, "total-supply-after", f"total supply of scheme {scheme}", supply_after, st.supply[scheme])

    def _take_transfer(self, ev, tx, frm, to, scheme, amount, operator) -> None:
        t = tx.transfers.pop() if tx.transfers else None
        if t is None or t["from"] != frm or t["to"] != to or t["id"] != scheme or t["value"] != amount or (
                operator is not None and t["operator"] != operator):
            self.problem(MISMATCH, "transfer-mismatch", f"{ev.name} is not preceded by its TransferSingle", ev,
                         transfer=t, expected={"from": frm, "to": to, "id": scheme, "value": amount})
        if tx.transfers:
            self.problem(VIOLATION, "unexplained-transfer", "TransferSingle without a ledger domain event", ev,
                         transfers=list(tx.transfers))
            tx.transfers.clear()

    # ------------------------------------------------------------------------------------------------
    # Rates
    # ------------------------------------------------------------------------------------------------

    def on_Rates__RateSet(self, ev: Event, tx: Tx) -> None:
        st, a = self.state, ev.args
        self._expect(ev, "previous-rate", f"previous rate of scheme {a['scheme']}", a["previous"],
                     st.rates.get(a["scheme"], 0))
        if st.profiles.get(a["scheme"], {}).get("kind") == ELIGIBILITY_ONLY:
            self.problem(VIOLATION, "rate-for-eligibility-only", f"scheme {a['scheme']} is eligibility-only and was "
                                                                 f"given a rate", ev)
        st.rates[a["scheme"]] = a["rate"]
        st.rate_history[a["scheme"]].append([ev.block, a["rate"]])


_ZERO = "0x" + "00" * 20
MAX_BROKEN_SHOWN = 50  # problems a batch's broken entries raise one by one; the rest are counted in one


def _hex(value) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    return str(value).lower().removeprefix("0x")
