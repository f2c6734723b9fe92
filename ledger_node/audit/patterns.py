"""Patterns that look like the farming and cheating the city worries about. They are findings (warnings), not
violations: each can have an honest explanation, so each carries its evidence for a human to judge.

- cap-farming: one issuer fills many residents to their daily cap within minutes;
- ref-burst: one issuer issues an unusual number of items within a short window;
- circular-exchange: a resident's exchanges come back to the scheme they started from;
- refund-ratio: a merchant refunds an unusual share of what it redeemed;
- new-resident-drain: a resident redeems (nearly) everything soon after being registered;
- identity trail (IdentityTrail, replay_trail.py): trail-bulk-access (one actor uses many residents' personal data
  within a short window), trail-odd-hours (uses at night, local time by a UTC offset; one finding per actor and
  night), trail-lookup-without-issuance (an issuance-lookup not followed, within a window, by an issuance of the
  actor's scheme to that resident), trail-repeated-access (one actor, one resident, many uses in a window) and
  trail-objection (a resident did not recognise an entry: every objection is listed until answered off chain).

Thresholds come from `Thresholds` defaults, a JSON or TOML settings file, or CLI flags.
"""
from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ledger_node.audit.model import Finding


@dataclass
class Thresholds:
    cap_fill_window_s: int = 600  # cap-farming: residents filled to their cap by one issuer within this window...
    cap_fill_residents: int = 20  # ...at least this many
    burst_window_s: int = 60  # ref-burst: items issued by one issuer within this window...
    burst_items: int = 5_000  # ...at least this many
    circular_window_s: int = 7 * 86400  # circular-exchange: a cycle closed within this window
    refund_ratio: float = 0.3  # refund-ratio: refunded / redeemed credits at least this...
    refund_min_redemptions: int = 5  # ...over at least this many redemptions
    new_resident_window_s: int = 3 * 86400  # new-resident-drain: registered at most this long before...
    new_resident_share: float = 0.95  # ...redeeming at least this share of all their points' value
    trail_bulk_window_s: int = 3600  # trail-bulk-access: distinct residents one actor used within this window...
    trail_bulk_residents: int = 50  # ...at least this many
    trail_utc_offset_h: int = 8  # trail-odd-hours: local time = UTC + this many hours (Chengdu: +8)...
    trail_odd_from_h: int = 0  # ...uses from this local hour...
    trail_odd_to_h: int = 6  # ...to before this one
    trail_lookup_window_s: int = 7 * 86400  # trail-lookup-without-issuance: an issuance within this window after
    trail_repeat_window_s: int = 86400  # trail-repeated-access: uses of one resident by one actor within this...
    trail_repeat_uses: int = 5  # ...at least this many
    max_evidence: int = 25  # items of evidence listed per finding

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides) -> "Thresholds":
        values: dict = {}
        if path:
            text = Path(path).read_text()
            data = tomllib.loads(text) if str(path).endswith(".toml") else json.loads(text)
            values.update(data.get("patterns", data))
        values.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown pattern thresholds: {sorted(unknown)} (known: {sorted(known)})")
        return cls(**values)


class Detector:
    """Observes the replay (on_issue, on_exchange, on_redeem, on_refund) and keeps only windowed state."""

    def __init__(self, thresholds: Thresholds | None = None, state: dict | None = None):
        self.t = thresholds or Thresholds()
        s = state or {}
        self.findings: list[dict] = s.get("findings", [])
        self._fills: dict[str, list] = s.get("fills", {})  # "scheme:issuer" -> [[ts, resident, tx], ...]
        self._fill_open: dict[str, int] = s.get("fillOpen", {})  # key -> index of the open finding
        self._fill_seen: dict[str, list] = s.get("fillSeen", {})  # key -> residents of the open finding
        self._burst: dict[str, list] = s.get("burst", {})  # key -> [[ts, items], ...]
        self._burst_open: dict[str, int] = s.get("burstOpen", {})
        self._exchanges: dict[str, list] = s.get("exchanges", {})  # resident -> [[ts, from, to, tx], ...]
        self._merchants: dict[str, list] = s.get("merchants", {})  # merchant -> [count, redeemed, refunded, refunds]
        # identity trail: actor -> [[ts, resident, entry, tx], ...] in the bulk window; "actor" -> open finding index
        self._uses: dict[str, list] = s.get("trailUses", {})
        self._uses_open: dict[str, int] = s.get("trailUsesOpen", {})
        self._night_open: dict[str, int] = s.get("trailNightOpen", {})  # "actor:local day" -> finding index
        self._lookups: list[list] = s.get("trailLookups", [])  # [ts, actor, resident, schemes, entry, tx, block]
        self._repeat: dict[str, list] = s.get("trailRepeat", {})  # "actor:resident" -> [[ts, entry], ...]
        self._repeat_open: dict[str, int] = s.get("trailRepeatOpen", {})
        self._now: int = s.get("now", 0)  # the latest event time seen

    def to_json(self) -> dict:
        return {"findings": self.findings, "fills": self._fills, "fillOpen": self._fill_open,
                "fillSeen": self._fill_seen, "burst": self._burst,
                "burstOpen": self._burst_open, "exchanges": self._exchanges, "merchants": self._merchants,
                "trailUses": self._uses, "trailUsesOpen": self._uses_open, "trailNightOpen": self._night_open,
                "trailLookups": self._lookups, "trailRepeat": self._repeat, "trailRepeatOpen": self._repeat_open,
                "now": self._now}

    # --------------------------------------------------------------------------------------------
    # Observations
    # --------------------------------------------------------------------------------------------

    def on_issue(self, scheme, issuer, resident, amount, received_after, cap, ts, tx, block) -> None:
        """One item issued (`received_after`: what the resident has received of the scheme that day)."""
        self.on_issues(scheme, issuer, 1, [(0, resident)] if received_after >= cap else [], cap, ts, tx, block,
                       (resident,))

    def wants_residents(self) -> bool:
        """Whether `on_issues` needs the residents a call issued to (issuance lookups are waiting for theirs)."""
        return bool(self._lookups)

    def on_issues(self, scheme, issuer, items: int, filled: list[tuple[int, str]], cap, ts, tx, block,
                  residents=()) -> None:
        """`items` issued by one call (one PointsIssued, one block time); `filled`: (item's position, resident) of
        the items that took their resident to the daily cap, in order; `residents`: everyone the call issued to,
        given when `wants_residents`. The same findings as `on_issue` once an item, in the same order, for the cost
        of a few steps a call (the bench's calls issue 1,000 items)."""
        if self._lookups and residents:  # an issuance of the scheme to a resident answers the lookups before it
            issued_to = set(residents)
            self._lookups = [x for x in self._lookups if not (x[2] in issued_to and scheme in x[3] and x[0] <= ts)]
            self._expire_lookups(ts)
        key = f"{scheme}:{issuer}"
        done = 0
        for position, resident in filled:
            self._burst_items(key, position + 1 - done, scheme, issuer, ts, tx, block)
            done = position + 1
            self._cap_filled(key, resident, scheme, issuer, cap, ts, tx, block)
        if items > done:
            self._burst_items(key, items - done, scheme, issuer, ts, tx, block)

    def _burst_items(self, key, count: int, scheme, issuer, ts, tx, block) -> None:
        """`count` (>= 1) items at time `ts` in the issuer's burst window, as `count` single items would be."""
        burst = self._burst.get(key)
        if burst is None:
            burst = self._burst[key] = []
        if burst and burst[-1][0] == ts:
            burst[-1][1] += count
        else:
            burst.append([ts, 1])
            self._trim(burst, ts - self.t.burst_window_s)
            if not burst or len(burst) == 1:
                self._burst_open.pop(key, None)
            burst[-1][1] += count - 1
        last = sum(n for _, n in burst)  # the total after the last of the items
        if last < self.t.burst_items:
            return
        first = last - count + 1  # the total after the first of them
        i = self._burst_open.get(key)
        if i is None:  # opened by the first item to reach the threshold; the items after it extend the finding
            at = max(first, self.t.burst_items)
            self._burst_open[key] = len(self.findings)
            self.findings.append({"pattern": "ref-burst", "message": "", "evidence": {
                "scheme": scheme, "issuer": issuer, "fromTime": burst[0][0], "firstBlock": block, "firstTx": tx,
                "items": at}})
            if at == last:
                return
            i = self._burst_open[key]
        e = self.findings[i]["evidence"]
        e["items"] = max(e["items"], last)
        e["toTime"], e["lastBlock"] = ts, block

    def _cap_filled(self, key, resident, scheme, issuer, cap, ts, tx, block) -> None:
        fills = self._fills.get(key)
        if fills is None:
            fills = self._fills[key] = []
        fills.append([ts, resident, tx])
        before = len(fills)
        self._trim(fills, ts - self.t.cap_fill_window_s)
        if len(fills) < before and key in self._fill_open and len(fills) < self.t.cap_fill_residents:
            del self._fill_open[key]
        residents = {r for _, r, _ in fills}
        if len(residents) >= self.t.cap_fill_residents:
            i = self._fill_open.get(key)
            if i is None:
                i = self._fill_open[key] = len(self.findings)
                self.findings.append({"pattern": "cap-farming", "message": "", "evidence": {
                    "scheme": scheme, "issuer": issuer, "cap": cap, "fromTime": fills[0][0], "firstBlock": block,
                    "residents": 0, "sample": [], "txs": []}})
                self._fill_seen[key] = []
            seen = set(self._fill_seen[key]) | residents
            self._fill_seen[key] = sorted(seen)
            e = self.findings[i]["evidence"]
            e["residents"], e["toTime"], e["lastBlock"] = len(seen), ts, block
            e["sample"] = self._fill_seen[key][:self.t.max_evidence]
            if tx not in e["txs"] and len(e["txs"]) < self.t.max_evidence:
                e["txs"].append(tx)

    def on_exchange(self, resident, frm, to, points, received, credits, ts, tx, block) -> None:
        history = self._exchanges.setdefault(resident, [])
        self._trim(history, ts - self.t.circular_window_s)
        history.append([ts, frm, to, tx, points, received])
        # a cycle: walking back from this exchange, the path returns to the scheme this one delivers into
        path, want = [history[-1]], frm
        for h in reversed(history[:-1]):
            if h[2] == want:
                path.insert(0, h)
                want = h[1]
                if want == to:
                    self.findings.append({"pattern": "circular-exchange", "message": "", "evidence": {
                        "resident": resident, "cycle": [p[1] for p in path] + [to], "steps": [
                            {"time": p[0], "from": p[1], "to": p[2], "tx": p[3], "points": p[4], "received": p[5]}
                            for p in path], "block": block}})
                    history.clear()
                    return

    def on_redeem(self, resident, merchant, credits, value_before, registered_at, ts, tx, block) -> None:
        m = self._merchants.setdefault(merchant, [0, 0, 0, 0])
        m[0] += 1
        m[1] += credits
        if registered_at is None or value_before <= 0:
            return
        if ts - registered_at <= self.t.new_resident_window_s and credits >= self.t.new_resident_share * value_before:
            self.findings.append({"pattern": "new-resident-drain", "message": "", "evidence": {
                "resident": resident, "merchant": merchant, "credits": credits, "valueBefore": value_before,
                "registeredAt": registered_at, "redeemedAt": ts, "secondsAfterRegistration": ts - registered_at,
                "tx": tx, "block": block}})

    def on_refund(self, merchant, credits, ts, tx, block) -> None:
        m = self._merchants.setdefault(merchant, [0, 0, 0, 0])
        m[2] += credits
        m[3] += 1

    def on_identity_use(self, entry, resident, actor, purpose, actor_schemes, ts, tx, block) -> None:
        t = self.t
        self._now = max(self._now, ts)
        self._expire_lookups(ts)
        # bulk access: distinct residents of one actor within the window
        uses = self._uses.setdefault(actor, [])
        uses.append([ts, resident, entry, tx])
        self._trim(uses, ts - t.trail_bulk_window_s)
        residents = sorted({u[1] for u in uses})
        if len(residents) < t.trail_bulk_residents:
            self._uses_open.pop(actor, None)
        else:
            i = self._uses_open.get(actor)
            if i is None:
                i = self._uses_open[actor] = len(self.findings)
                self.findings.append({"pattern": "trail-bulk-access", "message": "", "evidence": {
                    "actor": actor, "fromTime": uses[0][0], "firstBlock": block, "residents": 0, "sample": [],
                    "entries": []}})
            e = self.findings[i]["evidence"]
            e["residents"], e["toTime"], e["lastBlock"] = max(e["residents"], len(residents)), ts, block
            e["sample"] = residents[:t.max_evidence]
            if len(e["entries"]) < t.max_evidence:
                e["entries"].append(entry)
        # odd hours, local time
        local = ts + t.trail_utc_offset_h * 3600
        hour = (local % 86400) // 3600
        if t.trail_odd_from_h <= hour < t.trail_odd_to_h:
            key = f"{actor}:{local // 86400}"
            i = self._night_open.get(key)
            if i is None:
                i = self._night_open[key] = len(self.findings)
                self.findings.append({"pattern": "trail-odd-hours", "message": "", "evidence": {
                    "actor": actor, "utcOffsetHours": t.trail_utc_offset_h, "uses": 0, "entries": []}})
            e = self.findings[i]["evidence"]
            e["uses"] += 1
            if len(e["entries"]) < t.max_evidence:
                e["entries"].append({"entry": entry, "resident": resident, "purpose": purpose, "time": ts,
                                     "localHour": hour, "tx": tx, "block": block})
        # a lookup for issuance waits for its issuance
        if purpose == "issuance-lookup":
            self._lookups.append([ts, actor, resident, list(actor_schemes), entry, tx, block])
        # repeated access to one resident
        key = f"{actor}:{resident}"
        seen = self._repeat.setdefault(key, [])
        seen.append([ts, entry])
        self._trim(seen, ts - t.trail_repeat_window_s)
        if len(seen) < t.trail_repeat_uses:
            self._repeat_open.pop(key, None)
        else:
            i = self._repeat_open.get(key)
            if i is None:
                i = self._repeat_open[key] = len(self.findings)
                self.findings.append({"pattern": "trail-repeated-access", "message": "", "evidence": {
                    "actor": actor, "resident": resident, "fromTime": seen[0][0], "uses": 0, "entries": []}})
            e = self.findings[i]["evidence"]
            e["uses"], e["toTime"] = max(e["uses"], len(seen)), ts
            e["entries"] = [x[1] for x in seen][:t.max_evidence]

    def on_objection(self, objection: dict) -> None:
        self.findings.append({"pattern": "trail-objection", "message": "", "evidence": dict(objection)})

    def _expire_lookups(self, now: int) -> None:
        """Lookups whose window closed before `now` with no issuance: findings."""
        window = self.t.trail_lookup_window_s
        late = [x for x in self._lookups if x[0] + window < now]
        if not late:
            return
        self._lookups = [x for x in self._lookups if x[0] + window >= now]
        for ts, actor, resident, schemes, entry, tx, block in late:
            self.findings.append({"pattern": "trail-lookup-without-issuance", "message": "", "evidence": {
                "actor": actor, "resident": resident, "schemes": schemes, "entry": entry, "lookupTime": ts,
                "windowSeconds": window, "tx": tx, "block": block}})

    # --------------------------------------------------------------------------------------------
    # Result
    # --------------------------------------------------------------------------------------------

    def finish(self, end_time: int) -> None:
        """At the replay's last block (its time): the lookups whose window has closed by then are findings."""
        self._now = max(self._now, end_time)
        self._expire_lookups(self._now)

    def results(self) -> list[Finding]:
        out = []
        for f in self.findings:
            out.append(Finding(f["pattern"], _message(f), f["evidence"]))
        for merchant, (count, redeemed, refunded, refunds) in sorted(self._merchants.items()):
            if count >= self.t.refund_min_redemptions and redeemed and refunded / redeemed >= self.t.refund_ratio:
                out.append(Finding("refund-ratio", f"merchant {merchant} refunded {refunded / redeemed:.0%} of the "
                                                   f"credits it redeemed ({refunds} refunds, {count} redemptions)",
                                   {"merchant": merchant, "redemptions": count, "redeemedCredits": redeemed,
                                    "refunds": refunds, "refundedCredits": refunded,
                                    "ratio": round(refunded / redeemed, 4)}))
        return out

    def settings(self) -> dict:
        return asdict(self.t)

    @staticmethod
    def _trim(items: list, oldest: int) -> None:
        k = 0
        while k < len(items) and items[k][0] < oldest:
            k += 1
        if k:
            del items[:k]


def _message(f: dict) -> str:
    e = f["evidence"]
    p = f["pattern"]
    if p == "cap-farming":
        return (f"issuer {e['issuer']} filled {e['residents']} residents to their daily cap of scheme {e['scheme']} "
                f"({e['cap']}) within {e.get('toTime', e['fromTime']) - e['fromTime']} s")
    if p == "ref-burst":
        return f"issuer {e['issuer']} issued {e['items']} items of scheme {e['scheme']} in a short window"
    if p == "circular-exchange":
        return f"resident {e['resident']} exchanged round a cycle {' -> '.join(map(str, e['cycle']))}"
    if p == "trail-bulk-access":
        return (f"{e['actor']} used the personal data of {e['residents']} residents within "
                f"{e.get('toTime', e['fromTime']) - e['fromTime']} s")
    if p == "trail-odd-hours":
        return (f"{e['actor']} used residents' personal data {e['uses']} time(s) at night "
                f"(local time UTC{e['utcOffsetHours']:+d})")
    if p == "trail-lookup-without-issuance":
        return (f"{e['actor']} looked up {e['resident']} for issuance (trail entry {e['entry']}) and issued nothing "
                f"to them within {e['windowSeconds']} s")
    if p == "trail-repeated-access":
        return f"{e['actor']} used {e['resident']}'s personal data {e['uses']} times in a short window"
    if p == "trail-objection":
        who = "the entry's resident" if e["byTheEntrysResident"] else "an account that is not the entry's resident"
        return f"trail entry {e['entryId']} was objected to by {who} ({e['resident']})"
    if p == "new-resident-drain":
        return (f"resident {e['resident']} redeemed {e['credits']} of {e['valueBefore']} credit cents "
                f"{e['secondsAfterRegistration']} s after registration")
    return p
