"""Compare the rebuilt state with the contracts' own answers at the same block: `eth_call` pinned to the
audited range's last block, sent as JSON-RPC batches. Every account and scheme, every supply, scheme record,
role, rate, pair, nonce, preferred order, redemption record, position, statement and governance figure (the nets
are not stored on chain since issue 25: the replay sums them from the events).
"""
from __future__ import annotations

from typing import Any, Callable

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak

from ledger_node import expiry
from ledger_node.audit.model import MISMATCH, Problem
from ledger_node.audit.rpc import Rpc, RpcError
from ledger_node.audit.state import State
from ledger_node.abi_types import split_types
from ledger_node.domain import ROLES
from ledger_node.issuance_refs import SEQ_BITS, sequenced_ref

ZERO32 = "0x" + "00" * 32


class _Check:
    __slots__ = ("contract", "fn", "args", "expected", "decode")

    def __init__(self, contract, fn, args, expected, decode):
        self.contract, self.fn, self.args, self.expected, self.decode = contract, fn, args, expected, decode


class Comparison:
    """Collects (call, expected) pairs, runs them as batched eth_calls at `block`, reports the differences."""

    def __init__(self, rpc: Rpc, contracts: dict[str, str], block: int):
        self.rpc, self.contracts, self.block = rpc, {k: v.lower() for k, v in contracts.items()}, block
        self.checks: list[tuple[_Check, str]] = []

    def add(self, contract: str, signature: str, args: list, out: str, expected: Any,
            convert: Callable[[Any], Any] = lambda v: v) -> None:
        if contract not in self.contracts:
            return
        name, _, rest = signature.partition("(")
        arg_types = split_types(rest[:-1])
        data = "0x" + keccak(text=signature)[:4].hex() + abi_encode(arg_types, args).hex()
        out_types = split_types(out[1:-1]) if out.startswith("(") and not out.endswith("[]") else [out]
        self.checks.append((_Check(contract, signature, args, expected,
                                   lambda raw: convert(_normalise(abi_decode(out_types, raw)[0]))), data))

    def run(self) -> list[Problem]:
        block = hex(self.block)
        calls = [("eth_call", [{"to": self.contracts[c.contract], "data": data}, block]) for c, data in self.checks]
        problems = []
        for (check, _), answer in zip(self.checks, self.rpc.batch(calls, chunk=1000)):
            if isinstance(answer, RpcError):
                got: Any = f"reverted: {answer.message}"
            else:
                try:
                    got = check.decode(bytes.fromhex(answer[2:]))
                except Exception as exc:  # noqa: BLE001 - undecodable answer is itself a mismatch
                    got = f"undecodable: {exc}"
            if got == check.expected:
                continue
            if check.fn.startswith("balanceOfBatch") and isinstance(got, list) and len(got) == len(check.expected):
                for account, scheme, g, e in zip(check.args[0], check.args[1], got, check.expected):
                    if g != e:
                        problems.append(Problem(
                            MISMATCH, "balance-mismatch", f"balance of {account} in scheme {scheme} is {g} on chain, "
                                                          f"{e} rebuilt", self.block, None,
                            {"contract": "PointsLedger", "account": account, "scheme": scheme, "chain": g,
                             "rebuilt": e}))
                continue
            if True:
                problems.append(Problem(
                    MISMATCH, "state-mismatch",
                    f"{check.contract}.{check.fn.split('(')[0]}({', '.join(map(_short, check.args))}) is {_short(got)} "
                    f"on chain, {_short(check.expected)} rebuilt",
                    self.block, None, {"contract": check.contract, "call": check.fn, "args": _norm_args(check.args),
                                       "chain": _jsonable(got), "rebuilt": _jsonable(check.expected)}))
        return problems


def compare_state(rpc: Rpc, contracts: dict[str, str], state: State, block: int, timestamp: int, *,
                  ref_sample: int = 2000) -> tuple[list[Problem], int]:
    """All comparisons at `block` (whose timestamp is `timestamp`); returns (problems, number of calls)."""
    c = Comparison(rpc, contracts, block)
    st = state
    today = st.today(timestamp)
    schemes = list(st.scheme_order)
    # PointsLedger: every account and scheme (residents and anyone who ever held points), supplies, records; in an
    # expiring scheme the balance is the live points at this block's time, and the points expiring next are checked.
    accounts = sorted(set(st.residents) | {a for (_, a) in st.balances})
    pairs = [(a, s) for a in accounts for s in schemes]
    accounts_set = set(accounts)
    for i in range(0, len(pairs), 2000):
        chunk = pairs[i:i + 2000]
        c.add("PointsLedger", "balanceOfBatch(address[],uint256[])", [[a for a, _ in chunk], [s for _, s in chunk]],
              "uint256[]", [st.live_balance(s, a, timestamp) for a, s in chunk])
    for (scheme, account), buckets in st.buckets.items():
        months = st.expiry_months(scheme)
        c.add("PointsLedger", "expiringOf(address,uint256)", [account, scheme], "((uint256,uint256))",
              list(expiry.expiring(buckets, expiry.cutoff(today, months), st.balances.get((scheme, account), 0),
                                   months)))
    for (scheme, account), (day, received) in st.received.items():
        c.add("PointsLedger", "receivedToday(uint256,address)", [scheme, account], "uint256",
              received if today <= day else 0)
    # Change (exact change, issue 27) of the same accounts and schemes, and of any other account whose change ever
    # moved: change written behind the ledger's back shows here even where no flow touched it since.
    for account, scheme in pairs + [(a, s) for (s, a) in st.change if a not in accounts_set]:
        c.add("PointsLedger", "changeOf(address,uint256)", [account, scheme], "uint256",
              st.change.get((scheme, account), 0))
    c.add("PointsLedger", "schemeIds()", [], "uint256[]", schemes)
    c.add("PointsLedger", "paused()", [], "bool", st.paused)
    c.add("PointsLedger", "dayOffset()", [], "int32", st.day_offset)
    for scheme in schemes:
        info = st.schemes[scheme]
        c.add("PointsLedger", "totalSupply(uint256)", [scheme], "uint256", st.supply.get(scheme, 0))
        c.add("PointsLedger", "schemeInfo(uint256)", [scheme],
              "((uint8,uint256,uint256,uint256,uint256,uint256,uint256))",
              [info["status"], info["quota"], info["cap"], info["quotaDay"], info["issuedToday"],
               st.supply.get(scheme, 0), info.get("expiry", 0)])
        # the ledger's dedup window, word by word: a number the replay holds used is used on chain
        words = sorted(st.windows.get(scheme, {}).items())
        for slot, word in words[:: max(1, len(words) // max(1, ref_sample // max(1, len(schemes))))]:
            c.add("PointsLedger", "refState(uint256,bytes32)", [scheme, used_number_ref(slot, word)], "uint8", 1)
    # Membership
    for account, rec in st.residents.items():
        c.add("Membership", "isResident(address)", [account], "bool", True)
        c.add("Membership", "identityOf(address)", [account], "bytes32", rec["identity"])
    for scheme, accounts_ in st.issuers.items():
        c.add("Membership", "issuerAccounts(uint256)", [scheme], "address[]", sorted(accounts_), sorted)
    for merchant, suspended in st.merchants.items():
        c.add("Membership", "isMerchantActive(address)", [merchant], "bool", not suspended)
    for name, role in ROLES.items():
        members = st.roles.get(role, set())
        c.add("Membership", "getRoleMemberCount(bytes32)", [_b32(role)], "uint256", len(members))
        for account in members:
            c.add("Membership", "hasRole(bytes32,address)", [_b32(role), account], "bool", True)
    # Rates
    for scheme, rate in st.rates.items():
        c.add("Rates", "rateOf(uint256)", [scheme], "uint256", rate)
    # Exchange
    c.add("Exchange", "dailyLimit()", [], "uint256", st.daily_limit)
    for a, b in st.pairs:
        c.add("Exchange", "pairAllowed(uint256,uint256)", [a, b], "bool", True)
    for resident, (day, used) in st.usage.items():
        c.add("Exchange", "usedToday(address)", [resident], "uint256", used if day == today else 0)
    for resident, top in (st.exchange_top or {}).items():  # the highest nonce used (a chain that numbers them)
        c.add("Exchange", "nextNonce(address)", [resident], "uint256", top + 1)
    for contract in ("Exchange", "Redemption"):
        for resident, nonce in st.nonces.get(contract, ()):
            c.add(contract, "nonceUsed(address,bytes32)", [resident, _b32(nonce)], "bool", True)
    # Redemption
    c.add("Redemption", "refundWindow()", [], "uint64", st.refund_window)
    for resident, order in st.preferred.items():
        c.add("Redemption", "preferredOrder(address)", [resident], "uint256[]", order)
    for rid, r in st.redemptions.items():
        # the record keeps the top 120 bits of the parties hash (IRedemption.Record), the refunded total and the time
        parties = keccak(abi_encode(["address", "address", "(uint256,uint256,uint256)[]"],
                                    [r["resident"], r["merchant"], [tuple(p) for p in r["parts"]]]))
        c.add("Redemption", "redemption(bytes32)", [_b32(rid)], "((bytes32,uint96,uint40))",
              ["0x" + (parties[:15] + bytes(17)).hex(), r["refunded"], r["redeemedAt"]])
    # Clearing
    c.add("Clearing", "openPeriod()", [], "uint256", st.open_period)
    for period, at in st.closed_at.items():
        c.add("Clearing", "closedAt(uint256)", [period], "uint64", at)
    for (period, scheme, merchant), amount in st.merchant_pos.items():
        c.add("Clearing", "merchantPosition(uint256,uint256,address)", [period, scheme, merchant], "int256", amount)
    for (period, lo, hi), amount in st.issuer_pos.items():
        c.add("Clearing", "issuerPosition(uint256,uint256,uint256)", [period, lo, hi], "int256", amount)
    for sid, s in st.statements.items():
        c.add("Clearing", "settlement(bytes32)", [_b32(sid)], "((uint8,bytes32))", [s["state"], s["bankRefHash"]])
    # Consortium
    c.add("Consortium", "members()", [], "address[]", sorted(st.members), sorted)
    c.add("Consortium", "threshold()", [], "uint256", st.threshold)
    c.add("Consortium", "emergencyThreshold()", [], "uint256", st.emergency_threshold)
    c.add("Consortium", "proposalLifetime()", [], "uint64", st.lifetime)
    c.add("Consortium", "proposalCount()", [], "uint256", len(st.proposals))
    for (target, selector), (delay, emergency) in st.policies.items():
        c.add("Consortium", "callPolicy(address,bytes4)", [target, bytes.fromhex(selector[2:])], "((uint64,bool))",
              [delay, emergency])
    for pid, p in st.proposals.items():
        c.add("Consortium", "getProposal(uint256)", [pid],
              "((address,uint64,uint64,uint64,bool,bool,bool,bool))",
              [p["queued"], p["emergency"], p["state"] == "executed", p["state"] == "cancelled"],
              lambda v: v[4:])
    # AuditAttestations
    c.add("AuditAttestations", "attestationCount()", [], "uint256", len(st.attestations))
    # IdentityTrail: every entry replayed
    c.add("IdentityTrail", "entryCount()", [], "uint256", len(st.trail))
    # SchemeRegistry: each described scheme's kind and its number of rules versions
    for scheme, profile in st.profiles.items():
        c.add("SchemeRegistry", "isEligibilityOnly(uint256)", [scheme], "bool", profile["kind"] == 2)
        c.add("SchemeRegistry", "rulesVersion(uint256)", [scheme], "uint32", len(st.rules.get(scheme, [])))
    return c.run(), len(c.checks)


def _normalise(v):
    if isinstance(v, str):
        return v.lower()
    if isinstance(v, bytes):
        return "0x" + v.hex()
    if isinstance(v, (list, tuple)):
        return [_normalise(x) for x in v]
    return v


def used_number_ref(slot: int, word: int) -> bytes:
    """A ref carrying the lowest number a window word holds used (ledger_node/issuance_refs.py's layout)."""
    bits = word & ((1 << SEQ_BITS) - 1)
    counter = (word >> SEQ_BITS) * SEQ_BITS + (bits & -bits).bit_length() - 1
    return sequenced_ref(slot >> 8, counter, bytes(32))


def _b32(h: str) -> bytes:
    return bytes.fromhex(h[2:])


def _norm_args(args):
    return [_jsonable(a) for a in args]


def _jsonable(v):
    if isinstance(v, bytes):
        return "0x" + v.hex()
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def _short(v) -> str:
    v = _jsonable(v)
    s = str(v)
    return s if len(s) <= 80 else s[:77] + "..."
