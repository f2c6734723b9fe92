"""The replay's events: (contract address, topic0) -> event, through the project's one event codec
(ledger_node.event_codec), built once from the artifacts' ABIs and the layouts of earlier contract versions.

Values come out as the replay keys its state: addresses as lowercase 0x strings (the codec's `checksum=False`),
bytes32 as lowercase 0x hex, integers as int, arrays and tuples as lists. The codec is code that reads the node's
logs, not a source of data: the audit still trusts nothing but JSON-RPC.

An eth_getLogs answer is parsed straight into `Log` records of the fields the replay reads (msgspec, typed: the
rest of each log, its block hash, is skipped unread, and no dict is made a log), then each log into an `Event`
(a msgspec Struct too: made in C, a third of a dataclass's cost). The audit decodes every log of a chain, so these
costs are the replay's (pipeline.py says where its time goes).
"""
from __future__ import annotations

from typing import Any

import msgspec
import orjson

from ledger_node.audit import AuditError
from ledger_node.audit.rpc import RpcError
from ledger_node.compiler import load_artifact
from ledger_node.event_codec import EventCodec


class Event(msgspec.Struct, gc=False):  # gc=False: an event never refers back to itself (no cycle to collect)
    name: str
    contract: str  # artifact name: PointsLedger, Redemption, ...
    address: str  # lowercase
    block: int
    tx: str
    tx_index: int
    log_index: int
    args: dict
    timestamp: int | None = None


class Log(msgspec.Struct, gc=False):
    """One log of an eth_getLogs answer, the fields the replay reads (JSON-RPC names, hex strings)."""

    address: str
    topics: list[str]
    data: str
    blockNumber: str  # noqa: N815 - the JSON-RPC field names
    transactionHash: str  # noqa: N815
    transactionIndex: str  # noqa: N815
    logIndex: str  # noqa: N815
    blockTimestamp: str | None = None  # noqa: N815 - not every node serves it (run.py reads the block then)
    removed: bool = False


class _LogsAnswer(msgspec.Struct, gc=False):
    result: list[Log] | None = None
    error: Any = None


_ANSWER = msgspec.json.Decoder(_LogsAnswer)


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
        # (lowercase address, topic0) -> (decoder, name, contract, address); and by topic0 alone, the first
        # contract's (a log's address is then compared: one lookup and one comparison a log on the hot path)
        self._by_key = {key: (event.decoder, event.name, event.contract, key[0]) for key, event in self._codec.items()}
        self._by_topic: dict[str, tuple] = {}
        for (_, topic0), entry in self._by_key.items():
            self._by_topic.setdefault(topic0, entry)

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

    def decode_answer(self, body: bytes, first_block: int, last_block: int) -> tuple[list[Event], list[dict]]:
        """The events of one eth_getLogs answer (the node's undecoded JSON-RPC response) for blocks
        [first_block, last_block], in log order (block, log index), and the logs no table knows (as the node sent
        them). Logs marked `removed` are left out. An error answer is an RpcError; an answer that is no list of logs,
        or a log outside the range (the node answered another question), an AuditError; logs out of order are
        sorted. The same events as `decode` gives one log at a time, in one pass: one dict lookup a log to its
        event, the block's and transaction's numbers read once each."""
        logs = _logs_of(body)
        by_topic, entry_of = self._by_topic, self._entry
        events: list[Event] = []
        unknown: list[int] = []  # positions in the answer
        append = events.append
        block_now, index_now = first_block, -1  # the last (block, log index) seen
        block_hex = timestamp_hex = tx_index_hex = None  # the hex strings `block`, `ts`, `tx_index` were read from
        block = ts = tx_index = None
        ordered = True
        for i, log in enumerate(logs):
            if log.removed:
                continue
            topics = log.topics
            if not topics:
                unknown.append(i)
                continue
            entry = by_topic.get(topics[0])
            if entry is None or entry[3] != log.address:  # another contract's event of that topic, or not lowercase
                entry = entry_of(log.address, topics[0])
                if entry is None:
                    unknown.append(i)
                    continue
            decode, name, contract, address = entry
            if log.blockNumber != block_hex:
                block_hex = log.blockNumber
                block = int(block_hex, 16)
                if block != block_now:
                    if block < first_block or block > last_block:
                        raise AuditError(f"eth_getLogs for blocks {first_block}-{last_block} answered a log of block "
                                         f"{block} (tx {log.transactionHash}): the node's history is not what was "
                                         f"asked")
                    if block < block_now:
                        ordered = False
                    block_now, index_now = block, -1
            if log.blockTimestamp != timestamp_hex:
                timestamp_hex = log.blockTimestamp
                ts = int(timestamp_hex, 16) if timestamp_hex else None
            if log.transactionIndex != tx_index_hex:
                tx_index_hex = log.transactionIndex
                tx_index = int(tx_index_hex, 16)
            log_index = int(log.logIndex, 16)
            if log_index <= index_now:
                ordered = False
            index_now = log_index
            append(Event(name, contract, address, block, log.transactionHash, tx_index, log_index,
                         decode(topics, log.data), ts))
        if not ordered:
            events.sort(key=_log_order)
        if unknown:  # rare (a violation): the evidence is each log whole, as the node sent it
            answer = orjson.loads(body)["result"]
            return events, [answer[i] for i in unknown]
        return events, []

    def _entry(self, address: str, topic0: str) -> tuple | None:
        """(decoder, name, contract, address) of a log's event, the hex in any case; None for no known event."""
        address = address.lower()
        return self._by_key.get((address, topic0)) or self._by_key.get((address, topic0.lower()))


def _logs_of(body: bytes) -> list[Log]:
    """The logs of an eth_getLogs answer; the node's error as an RpcError, any other shape as an AuditError."""
    try:
        answer = _ANSWER.decode(body)
    except msgspec.DecodeError as exc:  # not JSON, not an object, or logs without the fields every log has
        raise AuditError(f"eth_getLogs: the node's answer is not a JSON-RPC response with a list of logs ({exc}): "
                         f"{body[:200]!r}") from exc
    if answer.error is not None:
        raise RpcError("eth_getLogs", answer.error if isinstance(answer.error, dict) else {"message": answer.error})
    if answer.result is None:
        raise AuditError(f"eth_getLogs: the node's answer has no list of logs: {body[:200]!r}")
    return answer.result


def _log_order(ev: Event) -> tuple[int, int]:
    return ev.block, ev.log_index
