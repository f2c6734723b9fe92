"""The replay's events: (contract address, topic0) -> event, through the project's one event codec
(ledger_node.event_codec), built once from the artifacts' ABIs and the layouts of earlier contract versions.

Values come out as the replay keys its state: addresses as lowercase 0x strings (the codec's `checksum=False`),
bytes32 as lowercase 0x hex, integers as int, arrays and tuples as lists. The codec is code that reads the node's
logs, not a source of data: the audit still trusts nothing but JSON-RPC.
"""
from __future__ import annotations

from dataclasses import dataclass

from ledger_node.audit import AuditError
from ledger_node.compiler import load_artifact
from ledger_node.event_codec import EventCodec


@dataclass(slots=True)
class Event:
    name: str
    contract: str  # artifact name: PointsLedger, Redemption, ...
    address: str  # lowercase
    block: int
    tx: str
    tx_index: int
    log_index: int
    args: dict
    timestamp: int | None = None


def _event(name: str, *inputs: tuple) -> dict:
    """An ABI event item from (name, type, indexed[, components]) tuples."""
    return {"type": "event", "name": name, "anonymous": False,
            "inputs": [{"name": i[0], "type": i[1], "indexed": i[2], **({"components": i[3]} if len(i) > 3 else {})}
                       for i in inputs]}


_PART = [{"name": "scheme", "type": "uint256"}, {"name": "points", "type": "uint256"},
         {"name": "credits", "type": "uint256"}]
# Layouts of earlier contract versions: a deployed chain keeps the bytecode (and the events) it was deployed with,
# so the audit decodes these too wherever the current ABI has no event with the same topic. The replay reads
# fields a former layout lacks with a default (Refunded without `creditedTo` credited the resident).
# Before issue 25 each intent also emitted NonceUsed, and Clearing's position events carried the parties' nets.
_NONCE_USED = _event("NonceUsed", ("resident", "address", True), ("nonce", "bytes32", True))
FORMER_EVENTS = {
    "Redemption": [_event("Refunded", ("redemptionId", "bytes32", True), ("resident", "address", True),
                          ("merchant", "address", True), ("credits", "uint256", False),
                          ("refundedTotal", "uint256", False), ("parts", "tuple[]", False, _PART)), _NONCE_USED],
    "Exchange": [_NONCE_USED],
    "Clearing": [_event("MerchantPositionChanged", ("period", "uint256", True), ("scheme", "uint256", True),
                        ("merchant", "address", True), ("delta", "int256", False), ("periodAmount", "int256", False),
                        ("issuerNet", "int256", False), ("merchantNet", "int256", False)),
                 _event("IssuerPositionChanged", ("period", "uint256", True), ("fromScheme", "uint256", True),
                        ("toScheme", "uint256", True), ("credits", "uint256", False),
                        ("periodAmountLoHi", "int256", False), ("fromNet", "int256", False),
                        ("toNet", "int256", False))],
    "Membership": [_event("RecoveryRequested", ("account", "address", True), ("newAccount", "address", True),
                          ("identityHash", "bytes32", True), ("executableAt", "uint64", False),
                          ("authority", "address", False))],
}


class EventTable:
    """The events of the deployment's contracts, keyed by (address, topic0): their ABIs, then FORMER_EVENTS."""

    def __init__(self, contracts: dict[str, str]):
        self.contracts = {name: addr.lower() for name, addr in contracts.items()}
        self._codec = EventCodec({name: (addr, load_artifact(name)["abi"] + FORMER_EVENTS.get(name, []))
                                  for name, addr in self.contracts.items()}, checksum=False)
        # (lowercase address, topic0) -> (decoder, name, contract, address): one dict lookup a log on the hot path
        self._by_key = {key: (event.decode, event.name, event.contract, key[0]) for key, event in self._codec.items()}

    @property
    def addresses(self) -> list[str]:
        return list(self.contracts.values())

    def decode(self, log: dict) -> Event | None:
        """The decoded event, or None for a log no table knows (reported by the replay as unknown)."""
        event = self._codec.event_of(log)
        if event is None:
            return None
        ts = log.get("blockTimestamp")
        return Event(event.name, event.contract, self.contracts[event.contract], int(log["blockNumber"], 16),
                     log["transactionHash"], int(log["transactionIndex"], 16), int(log["logIndex"], 16),
                     event.decode(log["topics"], log["data"]), int(ts, 16) if ts else None)

    def decode_logs(self, logs: list[dict], first_block: int, last_block: int) -> tuple[list[Event], list[dict]]:
        """The events of one eth_getLogs answer for blocks [first_block, last_block], in log order (block, log
        index), and the logs no table knows. Logs marked `removed` are left out. A log outside the range is an
        AuditError (the node answered another question); logs out of order are sorted. The same events as
        `decode` gives one log at a time, without its per-log lookups (the audit decodes every log of a chain)."""
        by_key, slow = self._by_key, self.decode
        events: list[Event] = []
        unknown: list[dict] = []
        append = events.append
        block_now, index_now = first_block, -1  # the last (block, log index) seen
        ordered = True
        for log in logs:
            if log.get("removed"):
                continue
            topics = log["topics"]
            entry = by_key.get((log["address"], topics[0])) if topics else None
            if entry is None:  # not the node's usual lowercase form, or no known event
                ev = slow(log)
                if ev is None:
                    unknown.append(log)
                    continue
            else:
                decode, name, contract, address = entry
                ts = log.get("blockTimestamp")
                ev = Event(name, contract, address, int(log["blockNumber"], 16), log["transactionHash"],
                           int(log["transactionIndex"], 16), int(log["logIndex"], 16), decode(topics, log["data"]),
                           int(ts, 16) if ts else None)
            block = ev.block
            if block != block_now:
                if block < first_block or block > last_block:
                    raise AuditError(f"eth_getLogs for blocks {first_block}-{last_block} answered a log of block "
                                     f"{block} (tx {ev.tx}): the node's history is not what was asked")
                if block < block_now:
                    ordered = False
                block_now, index_now = block, -1
            if ev.log_index <= index_now:
                ordered = False
            index_now = ev.log_index
            append(ev)
        if not ordered:
            events.sort(key=_log_order)
        return events, unknown


def _log_order(ev: Event) -> tuple[int, int]:
    return ev.block, ev.log_index
