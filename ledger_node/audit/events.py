"""Decoding tables: (contract address, topic0) -> decoder, built once from the artifacts' ABIs.

Values come out normalised for the replay: addresses as lowercase 0x strings, bytes32 as lowercase 0x hex,
integers as int, tuples as tuples, arrays as lists. The hot event, ERC-1155 TransferSingle (one per issued
item), is decoded by hand from its fixed words; everything else through eth_abi's `decode` directly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from eth_abi import decode as abi_decode
from eth_utils import keccak

from ledger_node.compiler import load_artifact
from ledger_node.abi_types import split_types

TRANSFER_SINGLE = "0x" + keccak(text="TransferSingle(address,address,address,uint256,uint256)").hex()
POINTS_ISSUED = "0x" + keccak(text="PointsIssued(uint256,address,uint256,bytes32[],uint32[],uint256[],uint256[],"
                                   "uint256,uint256,uint256)").hex()


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
FORMER_EVENTS = {
    "Redemption": [_event("Refunded", ("redemptionId", "bytes32", True), ("resident", "address", True),
                          ("merchant", "address", True), ("credits", "uint256", False),
                          ("refundedTotal", "uint256", False), ("parts", "tuple[]", False, _PART))],
    "Membership": [_event("RecoveryRequested", ("account", "address", True), ("newAccount", "address", True),
                          ("identityHash", "bytes32", True), ("executableAt", "uint64", False),
                          ("authority", "address", False))],
}


class EventTable:
    """Decoders for every event of the deployment's contracts, keyed by (address, topic0)."""

    def __init__(self, contracts: dict[str, str]):
        self.contracts = {name: addr.lower() for name, addr in contracts.items()}
        self.name_of = {addr: name for name, addr in self.contracts.items()}
        self._decoders: dict[tuple[str, str], tuple[str, Callable[[list, str], dict]]] = {}
        for name, addr in self.contracts.items():
            current = [i for i in load_artifact(name)["abi"] if i["type"] == "event" and not i.get("anonymous")]
            for item in current + FORMER_EVENTS.get(name, []):
                sig = f"{item['name']}({','.join(abi_type(i) for i in item['inputs'])})"
                topic = "0x" + keccak(text=sig).hex()
                if (addr, topic) in self._decoders:
                    continue
                dec = {TRANSFER_SINGLE: _transfer_single, POINTS_ISSUED: _points_issued}.get(topic) or _generic(item)
                self._decoders[(addr, topic)] = (item["name"], dec)

    @property
    def addresses(self) -> list[str]:
        return list(self.contracts.values())

    def decode(self, log: dict) -> Event | None:
        """The decoded event, or None for a log no table knows (reported by the replay as unknown)."""
        topics = log["topics"]
        address = log["address"].lower()
        entry = self._decoders.get((address, topics[0] if topics else None))
        if entry is None:
            return None
        name, dec = entry
        ts = log.get("blockTimestamp")
        return Event(name, self.name_of[address], address, int(log["blockNumber"], 16), log["transactionHash"],
                     int(log["transactionIndex"], 16), int(log["logIndex"], 16), dec(topics, log["data"]),
                     int(ts, 16) if ts else None)


def abi_type(item: dict) -> str:
    if item["type"].startswith("tuple"):
        return f"({','.join(abi_type(c) for c in item['components'])}){item['type'][5:]}"
    return item["type"]


def _transfer_single(topics: list, data: str) -> dict:
    return {"operator": "0x" + topics[1][26:], "from": "0x" + topics[2][26:], "to": "0x" + topics[3][26:],
            "id": int(data[2:66], 16), "value": int(data[66:130], 16)}


def _points_issued(topics: list, data: str) -> dict:
    """PointsIssued carries four arrays of up to a batch's length: decoded from the hex words directly."""
    d = data[2:]

    def array(head_word: int, conv):
        off = int(d[head_word * 64:head_word * 64 + 64], 16) * 2
        n = int(d[off:off + 64], 16)
        start = off + 64
        return [conv(d[start + 64 * i:start + 64 * i + 64]) for i in range(n)]

    return {"scheme": int(topics[1], 16), "issuer": "0x" + topics[2][26:], "day": int(topics[3], 16),
            "refs": array(0, lambda w: "0x" + w), "reasonCodes": array(1, lambda w: int(w, 16)),
            "balancesAfter": array(2, lambda w: int(w, 16)), "skipped": array(3, lambda w: int(w, 16)),
            "issuedAmount": int(d[256:320], 16), "quotaUsedAfter": int(d[320:384], 16),
            "totalSupplyAfter": int(d[384:448], 16)}


def _generic(item: dict) -> Callable[[list, str], dict]:
    inputs = item["inputs"]
    indexed = [(i["name"], _topic_converter(abi_type(i))) for i in inputs if i.get("indexed")]
    plain = [i for i in inputs if not i.get("indexed")]
    plain_types = [abi_type(i) for i in plain]
    plain_conv = [(i["name"], _converter(t)) for i, t in zip(plain, plain_types)]

    def decode(topics: list, data: str) -> dict:
        args = {name: conv(topics[k + 1]) for k, (name, conv) in enumerate(indexed)}
        if plain_types:
            values = abi_decode(plain_types, bytes.fromhex(data[2:]))
            for (name, conv), v in zip(plain_conv, values):
                args[name] = conv(v)
        return args

    return decode


def _topic_converter(t: str) -> Callable[[str], Any]:
    if t == "address":
        return lambda x: "0x" + x[26:].lower()
    if t.startswith("uint"):
        return lambda x: int(x, 16)
    if t.startswith("int"):
        bits = int(t[3:] or 256)
        return lambda x: _signed(int(x, 16), bits)
    if t == "bool":
        return lambda x: int(x, 16) != 0
    return lambda x: x.lower()  # bytesN, or the hash of a dynamic indexed value


def _converter(t: str) -> Callable[[Any], Any]:
    if t.endswith("]"):
        inner = _converter(t[:t.rindex("[")])
        return lambda v: [inner(x) for x in v]
    if t.startswith("("):
        parts = split_types(t[1:-1])
        convs = [_converter(p) for p in parts]
        return lambda v: tuple(c(x) for c, x in zip(convs, v))
    if t == "address":
        return lambda v: v.lower()
    if t.startswith("bytes"):
        return lambda v: "0x" + v.hex()
    return lambda v: v


def _signed(x: int, bits: int) -> int:
    return x - (1 << bits) if x >> (bits - 1) else x
