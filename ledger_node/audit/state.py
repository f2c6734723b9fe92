"""What the audit replay rebuilds from events: `State`, the whole CityPoints world as the logs left it, read by the
replay's handlers as each rule applies and by the end-of-range comparison with the contracts (rules.py).

`to_json` / `from_json` are the report's resume point (`citypoints audit --resume`): reports already written carry
this format, so it changes only with a new report format.

Role ids and scheme statuses are the domain's (ledger_node.domain, checked against the compiled contracts); the
statuses are taken as plain ints because they go into the JSON state.
"""
from __future__ import annotations

from collections import defaultdict

from ledger_node import expiry
from ledger_node.domain import ROLES, UINT64_MAX, SchemeStatus

DAY = 86400
NONE, ACTIVE, PAUSED, RETIRED = (status.value for status in SchemeStatus)


VALUED, ELIGIBILITY_ONLY = 1, 2  # ISchemeRegistry.SchemeKind


class State:
    """Everything the replay rebuilds; JSON round-trips through to_json/from_json (the resume point)."""

    def __init__(self):
        self.last_block = -1
        # PointsLedger
        self.balances: dict[tuple[int, str], int] = {}
        self.received: dict[tuple[int, str], list[int]] = {}  # [day, received that day]
        self.supply: dict[int, int] = {}
        self.change: dict[tuple[int, str], int] = {}  # value units (credit cents x RATE_SCALE), from ChangeUpdated
        self.schemes: dict[int, dict] = {}  # status, quota, cap, quotaDay, issuedToday, expiry (months; absent: 0)
        # expiring schemes: (scheme, account) -> {month: points credited that month, not yet debited}
        # (ledger_node/expiry.py); `balances` counts every point not debited or swept, as the ledger's record does
        self.buckets: dict[tuple[int, str], dict[int, int]] = {}
        self.scheme_order: list[int] = []
        # issuance dedup (ledger_node/issuance_refs.py): the event ids issued per scheme (a ref's last 24 bytes, hex),
        # and the ledger's window of sequence numbers per scheme (ring slot -> word)
        self.refs: dict[int, set[str]] = defaultdict(set)
        self.windows: dict[int, dict[int, int]] = defaultdict(dict)
        self.paused = False
        self.day_offset = 0
        # Membership
        self.residents: dict[str, dict] = {}  # account -> {identity, registeredAt}
        # points held for people who have not joined (issueToIdentities): open held account -> identity hash
        self.holdings: dict[str, str] = {}
        self.roles: dict[str, set[str]] = defaultdict(set)
        self.merchants: dict[str, bool] = {}  # merchant -> suspended
        self.issuers: dict[int, set[str]] = defaultdict(set)
        # SchemeRegistry: what each programme is (names, unit, organisation, colour, kind) and its rules versions
        self.profiles: dict[int, dict] = {}
        self.rules: dict[int, list[dict]] = defaultdict(list)
        # scheme -> {"cited": {version: entries}, "uncited": {batches, items, amount, first/last block and tx},
        # "unknown": [versions whose document the audit lacks]}: issuance against the published rules
        self.citations: dict[int, dict] = {}
        self.eligibility_proofs = 0
        # scheme -> issuer account -> {block, tx, proposal}: where each account in force became an issuer
        self.issuer_grants: dict[int, dict[str, dict]] = defaultdict(dict)
        self.recoveries: dict[str, str] = {}
        self.recovered_to: dict[str, str] = {}  # a key recovered away -> the account that took its registration
        # Rates
        self.rates: dict[int, int] = {}
        self.rate_history: dict[int, list[list[int]]] = defaultdict(list)  # [[block, rate], ...]
        # Exchange / Redemption
        self.nonces: dict[str, set[tuple[str, str]]] = defaultdict(set)  # contract -> {(resident, nonce)}
        # resident -> the highest exchange nonce used: Exchange's nonces are numbers (1..2**64-1), each used once
        # within domain.EXCHANGE_NONCE_WINDOW of the highest; None on a chain of a former layout (random nonces:
        # run.py asks the contract), where the window rule does not apply
        self.exchange_top: dict[str, int] | None = None
        self.pairs: set[tuple[int, int]] = set()
        self.daily_limit = 0
        self.usage: dict[str, list[int]] = {}  # resident -> [day, credits]
        self.preferred: dict[str, list[int]] = {}
        self.redemptions: dict[str, dict] = {}
        self.refund_window = 0
        # Clearing
        self.open_period = 1
        self.closed_at: dict[int, int] = {}
        self.merchant_pos: dict[tuple[int, int, str], int] = {}
        self.issuer_pos: dict[tuple[int, int, int], int] = {}
        self.issuer_net: dict[int, int] = defaultdict(int)
        self.merchant_net: dict[str, int] = defaultdict(int)
        self.statements: dict[str, dict] = {}
        # Consortium
        self.members: set[str] = set()
        self.threshold = 0
        self.emergency_threshold = 0
        self.lifetime = 0
        self.policies: dict[tuple[str, str], list] = {}  # (target, selector) -> [delay, emergency]
        self.proposals: dict[int, dict] = {}
        # AuditAttestations
        self.attestations: list[dict] = []
        # IdentityTrail: entry id -> [resident, actor, purpose, at] (objections name an entry), and the objections
        self.trail: dict[int, list] = {}
        self.objections: list[dict] = []
        # Totals for the report
        self.totals: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.counts: dict[str, int] = defaultdict(int)

    # ------------------------------------------------------------------------------------------------
    # Serialisation (the report's resume point)
    # ------------------------------------------------------------------------------------------------

    def to_json(self) -> dict:
        return {
            "lastBlock": self.last_block,
            "balances": [[s, a, v] for (s, a), v in sorted(self.balances.items())],
            "received": [[s, a, d, r] for (s, a), (d, r) in sorted(self.received.items())],
            "supply": {str(k): v for k, v in self.supply.items()},
            "change": [[s, a, v] for (s, a), v in sorted(self.change.items())],
            "buckets": [[s, a, sorted(b.items())] for (s, a), b in sorted(self.buckets.items()) if b],
            "schemes": {str(k): v for k, v in self.schemes.items()},
            "schemeOrder": self.scheme_order,
            "refs": {str(k): sorted(v) for k, v in self.refs.items()},
            "windows": {str(k): [[slot, hex(word)] for slot, word in sorted(v.items())] for k, v in self.windows.items()},
            "paused": self.paused, "dayOffset": self.day_offset,
            "residents": self.residents, "holdings": self.holdings,
            "roles": {k: sorted(v) for k, v in self.roles.items()},
            "merchants": self.merchants,
            "issuers": {str(k): sorted(v) for k, v in self.issuers.items()},
            "issuerGrants": {str(k): v for k, v in self.issuer_grants.items()},
            "profiles": {str(k): v for k, v in self.profiles.items()},
            "rules": {str(k): v for k, v in self.rules.items()},
            "citations": {str(k): v for k, v in self.citations.items()},
            "eligibilityProofs": self.eligibility_proofs,
            "recoveries": self.recoveries, "recoveredTo": self.recovered_to,
            "rates": {str(k): v for k, v in self.rates.items()},
            "rateHistory": {str(k): v for k, v in self.rate_history.items()},
            "nonces": {k: sorted([list(x) for x in v]) for k, v in self.nonces.items()},
            "pairs": sorted([list(p) for p in self.pairs]),
            "dailyLimit": self.daily_limit, "usage": self.usage, "preferred": self.preferred,
            "redemptions": self.redemptions, "refundWindow": self.refund_window,
            "openPeriod": self.open_period, "closedAt": {str(k): v for k, v in self.closed_at.items()},
            "merchantPositions": [[p, s, m, v] for (p, s, m), v in sorted(self.merchant_pos.items())],
            "issuerPositions": [[p, lo, hi, v] for (p, lo, hi), v in sorted(self.issuer_pos.items())],
            "issuerNet": {str(k): v for k, v in self.issuer_net.items()},
            "merchantNet": dict(self.merchant_net),
            "statements": self.statements,
            "members": sorted(self.members), "threshold": self.threshold,
            "emergencyThreshold": self.emergency_threshold, "lifetime": self.lifetime,
            "policies": [[t, s, d, e] for (t, s), (d, e) in sorted(self.policies.items())],
            "proposals": {str(k): {**v, "approvers": sorted(v["approvers"])} for k, v in self.proposals.items()},
            "attestations": self.attestations,
            "trail": {str(k): v for k, v in self.trail.items()}, "objections": self.objections,
            "totals": {str(k): dict(v) for k, v in self.totals.items()},
            "counts": dict(self.counts),
        }

    @classmethod
    def from_json(cls, d: dict) -> "State":
        s = cls()
        s.last_block = d["lastBlock"]
        s.balances = {(x[0], x[1]): x[2] for x in d["balances"]}
        s.received = {(x[0], x[1]): [x[2], x[3]] for x in d["received"]}
        s.supply = {int(k): v for k, v in d["supply"].items()}
        s.change = {(x[0], x[1]): x[2] for x in d.get("change", [])}  # absent before exact change: none held
        s.schemes = {int(k): v for k, v in d["schemes"].items()}
        s.buckets = {(x[0], x[1]): {m: v for m, v in x[2]} for x in d.get("buckets", [])}  # absent before expiry
        s.scheme_order = list(d["schemeOrder"])
        s.refs = defaultdict(set, {int(k): set(v) for k, v in d["refs"].items()})
        s.windows = defaultdict(dict, {int(k): {slot: int(word, 16) for slot, word in v}
                                       for k, v in d.get("windows", {}).items()})
        s.paused, s.day_offset = d["paused"], d["dayOffset"]
        s.residents = d["residents"]
        s.holdings = d.get("holdings", {})  # absent before points could be held for the not yet joined
        s.roles = defaultdict(set, {k: set(v) for k, v in d["roles"].items()})
        s.merchants = d["merchants"]
        s.issuers = defaultdict(set, {int(k): set(v) for k, v in d["issuers"].items()})
        # absent in reports made before it was kept: the accounts in force, their grant unknown
        s.issuer_grants = defaultdict(dict, {int(k): v for k, v in d.get("issuerGrants", {}).items()})
        s.profiles = {int(k): v for k, v in d.get("profiles", {}).items()}  # absent before the registry
        s.rules = defaultdict(list, {int(k): v for k, v in d.get("rules", {}).items()})
        s.citations = {int(k): v for k, v in d.get("citations", {}).items()}  # absent before citations
        s.eligibility_proofs = d.get("eligibilityProofs", 0)
        s.recoveries = d["recoveries"]
        s.recovered_to = d.get("recoveredTo", {})  # absent in reports made before it was kept
        s.rates = {int(k): v for k, v in d["rates"].items()}
        s.rate_history = defaultdict(list, {int(k): v for k, v in d["rateHistory"].items()})
        s.nonces = defaultdict(set, {k: {tuple(x) for x in v} for k, v in d["nonces"].items()})
        s.pairs = {tuple(p) for p in d["pairs"]}
        s.daily_limit, s.usage, s.preferred = d["dailyLimit"], d["usage"], d["preferred"]
        s.redemptions, s.refund_window = d["redemptions"], d["refundWindow"]
        s.open_period = d["openPeriod"]
        s.closed_at = {int(k): v for k, v in d["closedAt"].items()}
        s.merchant_pos = {(x[0], x[1], x[2]): x[3] for x in d["merchantPositions"]}
        s.issuer_pos = {(x[0], x[1], x[2]): x[3] for x in d["issuerPositions"]}
        s.issuer_net = defaultdict(int, {int(k): v for k, v in d["issuerNet"].items()})
        s.merchant_net = defaultdict(int, d["merchantNet"])
        s.statements = d["statements"]
        s.members = set(d["members"])
        s.threshold, s.emergency_threshold, s.lifetime = d["threshold"], d["emergencyThreshold"], d["lifetime"]
        s.policies = {(x[0], x[1]): [x[2], x[3]] for x in d["policies"]}
        s.proposals = {int(k): {**v, "approvers": set(v["approvers"])} for k, v in d["proposals"].items()}
        s.attestations = d["attestations"]
        s.trail = {int(k): v for k, v in d.get("trail", {}).items()}  # absent before the identity-use trail
        s.objections = d.get("objections", [])
        for k, v in d["totals"].items():
            s.totals[int(k)].update(v)
        s.counts.update(d["counts"])
        return s

    # ------------------------------------------------------------------------------------------------
    # Derived views
    # ------------------------------------------------------------------------------------------------

    def citations_of(self, scheme: int) -> dict:
        c = self.citations.get(scheme)
        if c is None:
            c = self.citations[scheme] = {"cited": {}, "uncited": None, "unknown": []}
        return c

    def number_exchange_nonces(self) -> None:
        """The chain's Exchange numbers its nonces (run.py asked it): the highest each resident used so far, from the
        nonces the replay holds used (a report resumed from carries them)."""
        top: dict[str, int] = {}
        for resident, nonce in self.nonces.get("Exchange", ()):
            n = int(nonce, 16)
            if n <= UINT64_MAX:
                top[resident] = max(top.get(resident, 0), n)
        self.exchange_top = top

    def today(self, timestamp: int) -> int:
        local = timestamp + self.day_offset
        return local // DAY if local > 0 else 0

    def expiry_months(self, scheme: int) -> int:
        return self.schemes.get(scheme, {}).get("expiry", 0)

    def live_balance(self, scheme: int, account: str, timestamp: int) -> int:
        """PointsLedger.balanceOf at a block of `timestamp`: in an expiring scheme, the points not expired."""
        balance = self.balances.get((scheme, account), 0)
        months = self.expiry_months(scheme)
        if not months or not balance:
            return balance
        return expiry.live(self.buckets.get((scheme, account), {}), expiry.cutoff(self.today(timestamp), months),
                           balance)

    def live_balances(self, timestamp: int) -> dict[tuple[int, str], int]:
        """Every balance as balanceOf answers it at a block of `timestamp`."""
        return {(s, a): self.live_balance(s, a, timestamp) if self.expiry_months(s) else v
                for (s, a), v in self.balances.items()}

    def change_total(self, scheme: int) -> int:
        """The change all accounts hold in `scheme`, in value units."""
        return sum(v for (s, _), v in self.change.items() if s == scheme)

    def has_role(self, role: str, account: str) -> bool:
        return account in self.roles.get(ROLES.get(role, role), ())

    def is_resident(self, account: str) -> bool:
        return account in self.residents

    def current_account(self, account: str) -> str:
        """The account holding `account`'s registration now (Membership.currentAccountOf)."""
        seen = set()
        while account in self.recovered_to and account not in seen:
            seen.add(account)
            account = self.recovered_to[account]
        return account
