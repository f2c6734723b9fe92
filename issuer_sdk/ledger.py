"""What the SDK knows about PointsLedger, shared by the sync and async clients: calldata, views, receipts.

No I/O here. The ABI comes from the artifact (build/contracts/PointsLedger.json) or is passed in;
the functions and events used are the fixed interface of contracts/interfaces/IPointsLedger.sol.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from eth_abi import decode as abi_decode
from eth_utils import to_checksum_address

from issuer_sdk import errors
from issuer_sdk.encoding import FastFunction, word_address
from ledger_node.domain import UINT32_MAX, UINT96_MAX
from ledger_node.event_codec import EventType


@dataclass(frozen=True)
class Issuance:
    """One thing to issue: `ref` is the issuer system's own id (hashed with the salt on its way to the chain).

    `reason` is the program's activity type (uint32) or None; `source` is the caller's marker (an input line,
    a byte offset) carried through to the results untouched.
    """

    resident: str
    amount: int
    ref: str | bytes | int
    reason: int | None = None
    source: Any = None


@dataclass
class IssueResult:
    """The outcome of one `issue`: `status` is "issued" or "duplicate" (the ref was used before)."""

    ref: Any
    onchain_ref: bytes
    status: str
    tx_hash: str
    block_number: int
    balance_after: int | None = None

    @property
    def issued(self) -> bool:
        return self.status == "issued"


@dataclass
class BatchResult:
    """One confirmed batch. `skipped` are indices into `items` whose ref was used before."""

    items: list[Issuance]
    tx_hash: str
    block_number: int
    skipped: list[int]
    issued_amount: int
    gas_used: int | None  # known for the batch the client learnt an item's gas from, or whose receipt it read
    after_failure: bool = False  # confirmed after an earlier batch of the same stream failed

    @property
    def issued(self) -> int:
        return len(self.items) - len(self.skipped)

    @property
    def duplicates(self) -> int:
        return len(self.skipped)


@dataclass
class IssueManySummary:
    batches: int = 0
    items: int = 0
    issued: int = 0
    duplicates: int = 0
    issued_amount: int = 0
    gas_used: int = 0
    results: list[BatchResult] = field(default_factory=list)

    def add(self, batch: BatchResult, keep: bool) -> None:
        self.batches += 1
        self.items += len(batch.items)
        self.issued += batch.issued
        self.duplicates += batch.duplicates
        self.issued_amount += batch.issued_amount
        self.gas_used += batch.gas_used or 0
        if keep:
            self.results.append(batch)


@dataclass
class RevokeResult:
    ref: Any
    onchain_ref: bytes
    status: str  # "revoked" or "duplicate"
    tx_hash: str
    block_number: int
    balance_after: int | None = None


@dataclass(frozen=True)
class RefStatus:
    """`used`: issued (or revoked) under this ref. `onchain_ref` is None for an id never given a sequence number."""

    ref: Any
    onchain_ref: bytes | None
    used: bool


@dataclass(frozen=True)
class Allowance:
    """What the issuer may still issue today: `quota_remaining` for the scheme, `cap_remaining` for a resident."""

    scheme: int
    day: int
    quota: int
    quota_used: int
    cap: int | None = None
    received: int | None = None

    @property
    def quota_remaining(self) -> int:
        return max(self.quota - self.quota_used, 0)

    @property
    def cap_remaining(self) -> int | None:
        return None if self.cap is None else max(self.cap - (self.received or 0), 0)


def load_abi(artifact: str | Path | None = None) -> list[dict]:
    """The PointsLedger ABI from an artifact file, or from build/contracts/ of this checkout."""
    if artifact is None:
        from ledger_node import paths  # only to find the checkout's build/ folder

        artifact = paths.build_dir() / "PointsLedger.json"
    try:
        return json.loads(Path(artifact).read_text())["abi"]
    except FileNotFoundError:
        raise errors.ConfigurationError(f"no PointsLedger artifact at {artifact}; run `citypoints compile`") from None


class LedgerCodec:
    """Calldata for the issuer's functions and views, and the reading of their receipts and answers."""

    def __init__(self, abi: list[dict]):
        self.abi = abi
        errors.register_abi(abi)
        fn = lambda name, n=None: FastFunction.from_abi(abi, name, n)  # noqa: E731
        self.issue_fn = fn("issue")
        self.issue_reason_fn = fn("issueWithReason")
        self.batch_fn = fn("issueBatch")
        self.batch_reason_fn = fn("issueBatchWithReason")
        self.identities_fn = fn("issueToIdentities")
        self.batch_cited_fn = fn("issueBatchCitingRules")
        self.scheme_registry_fn = fn("schemeRegistry")
        self.revoke_fn = fn("revoke")
        self.ref_state_fn = fn("refState")
        self.balance_fn = fn("balanceOf", 2)
        self.quota_used_fn = fn("quotaUsedToday")
        self.received_fn = fn("receivedToday")
        self.scheme_info_fn = fn("schemeInfo")
        self.today_fn = fn("today")
        events = {e["name"]: e for e in abi if e.get("type") == "event"}
        # read through the project's one event codec, by field name, so a reordered event still reads
        self.issued = EventType(events["PointsIssued"])
        self.revoked = EventType(events["PointsRevoked"])
        self.revocation_skipped = EventType(events["RevocationSkipped"])
        self.topic_issued = bytes.fromhex(self.issued.topic0[2:])

    # -- calldata --------------------------------------------------------------------------------------------

    def issue_data(self, scheme: int, resident: str, amount: int, ref32: bytes, reason: int | None) -> bytes:
        if reason is None:
            return self.issue_fn.encode(scheme, resident, amount, ref32)
        return self.issue_reason_fn.encode(scheme, resident, amount, ref32, reason)

    def batch_data(self, scheme: int, residents: Sequence[bytes], amounts: Sequence[bytes], refs: Sequence[bytes],
                   reasons: Sequence[bytes] | None, rules_version: int | None = None) -> bytes:
        """Arrays given as ready 32-byte words (see `item_words`); `rules_version` cites a published version
        (issueBatchCitingRules, reasons required)."""
        if rules_version is not None:
            return self.batch_cited_fn.encode_batch_words([scheme, rules_version], [residents, amounts, refs, reasons])
        if reasons is None:
            return self.batch_fn.encode_batch_words([scheme], [residents, amounts, refs])
        return self.batch_reason_fn.encode_batch_words([scheme], [residents, amounts, refs, reasons])

    def identities_data(self, scheme: int, rules_version: int, hashes: Sequence[bytes], amounts: Sequence[int],
                        refs: Sequence[bytes], reasons: Sequence[int]) -> bytes:
        return self.identities_fn.encode(scheme, rules_version, list(hashes), list(amounts), list(refs), list(reasons))

    def revoke_data(self, scheme: int, resident: str, amount: int, ref32: bytes, reason: int) -> bytes:
        return self.revoke_fn.encode(scheme, resident, amount, ref32, reason)

    # -- reading answers -------------------------------------------------------------------------------------

    def batch_outcome(self, receipt: dict, ledger: str) -> tuple[list[int], int]:
        """(skipped indices, issued amount) from the PointsIssued log of a successful issue/issueBatch."""
        data = self._log_data(receipt, ledger, self.issued)
        if data is None:
            raise errors.IssuerError("the receipt has no PointsIssued event of this ledger",
                                     attempted={"tx": receipt.get("transactionHash")})
        return self.outcome_from_data(data)

    def outcome_from_data(self, data: str | bytes) -> tuple[list[int], int]:
        """(skipped indices, issued amount) from a PointsIssued log's data; its other arrays are left undecoded."""
        args = event_fields(self.issued, data, ("skipped", "issuedAmount"))
        return args["skipped"], args["issuedAmount"]

    def single_balance_after(self, receipt: dict, ledger: str) -> int | None:
        data = self._log_data(receipt, ledger, self.issued)
        balances = event_fields(self.issued, data, ("balancesAfter",))["balancesAfter"] if data is not None else []
        return balances[0] if balances and balances[0] else None

    def revoke_outcome(self, receipt: dict, ledger: str) -> tuple[str, int | None]:
        data = self._log_data(receipt, ledger, self.revoked)
        if data is not None:
            return "revoked", event_fields(self.revoked, data, ("balanceAfter",))["balanceAfter"]
        if self._log_data(receipt, ledger, self.revocation_skipped) is not None:
            return "duplicate", None
        raise errors.IssuerError("the receipt has no revocation event of this ledger",
                                 attempted={"tx": receipt.get("transactionHash")})

    @staticmethod
    def _log_data(receipt: dict, ledger: str, event: EventType) -> str | None:
        """The data (0x hex) of the receipt's first `event` log emitted by `ledger`."""
        ledger = ledger.lower()
        for log in receipt.get("logs", ()):
            if log["topics"] and log["topics"][0] == event.topic0 and log["address"].lower() == ledger:
                return log["data"]
        return None

    @staticmethod
    def decode_uint(result: str) -> int:
        return int(result, 16) if result and result != "0x" else 0

    @staticmethod
    def decode_bool(result: str) -> bool:
        return bool(int(result, 16)) if result and result != "0x" else False

    def decode_scheme_info(self, result: str) -> dict:
        status, quota, cap, quota_day, issued_today, supply, expiry_months = abi_decode(
            ["uint8", "uint256", "uint256", "uint256", "uint256", "uint256", "uint256"], bytes.fromhex(result[2:]))
        return {"status": status, "issuerDailyQuota": quota, "residentDailyCap": cap, "quotaDay": quota_day,
                "issuedToday": issued_today, "totalSupply": supply, "expiryMonths": expiry_months}


def event_fields(event: EventType, data: str | bytes, names: tuple[str, ...]) -> dict:
    """`names` of a log's data; data that does not fit the event is the SDK's error, not a ValueError."""
    try:
        return event.decode_data(data, names)
    except ValueError as exc:
        raise errors.IssuerError(f"malformed {event.name} event data: {exc}", attempted={"event": event.name}) from None


def item_words(item: Issuance, ref32: bytes) -> tuple[bytes, bytes, bytes]:
    """(resident, amount, ref) as 32-byte ABI words; raises ValueError for a malformed item."""
    amount = item.amount
    if type(amount) is not int or amount <= 0 or amount > UINT96_MAX:
        raise ValueError(f"amount must be a positive integer below 2**96, got {amount!r}")
    return word_address(item.resident), amount.to_bytes(32, "big"), ref32


def reason_word(reason: int | None) -> bytes:
    reason = 0 if reason is None else reason
    if type(reason) is not int or not 0 <= reason <= UINT32_MAX:
        raise ValueError(f"a reason code is a uint32, got {reason!r}")
    return reason.to_bytes(32, "big")


def checksum(address: str) -> str:
    return to_checksum_address(address)
