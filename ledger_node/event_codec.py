"""The project's one ABI event codec: topic0 -> event, and a log -> the event's arguments by name.

The issuer SDK (its PointsIssued logs and receipts), the API (the indexer, the relayer's confirmations) and the
auditor read events through it, so an event reads the same everywhere. The auditor keeps its trust boundary:
this is code that reads what the node returned, not a source of data.

An event's decoder is put together once from its ABI types. It reads the log's 32-byte words directly for the
shapes the contracts' events use (words, arrays of words, arrays of tuples of words); any other shape goes
through eth_abi's decoder. The indexer and the auditor decode every log of the chain, and eth_abi's general
decoder was most of their time. tests/exchange_api/test_event_decoding.py holds the codec equal to web3's own
decoding for every event of every contract.

Values come out plain, ready for JSON: int, bool, str; bytes and bytesN as lowercase 0x hex; arrays and tuples as
lists; an indexed value of a dynamic type as its topic (the value's hash). Addresses are checksummed (EIP-55), or
lowercase 0x hex with `checksum=False`: the auditor keys its state on lowercase addresses, and checksumming an
address not seen before costs ~18 µs, more than decoding the rest of its log.
"""
from __future__ import annotations

import re
from functools import partial
from typing import Any, Callable, Collection, Iterable

from eth_abi import decode as abi_decode
from eth_utils import keccak

from ledger_node.abi_types import abi_type, split_types
from ledger_node.typed_data import checksum as to_checksum


class EventCodec:
    """The events of a deployment's contracts by (address, topic0): decodes the logs of eth_getLogs and receipts."""

    def __init__(self, contracts: dict[str, tuple[str, Iterable[dict]]], *, checksum: bool = True):
        """`contracts`: contract (artifact) name -> (address, ABI items). Of two events of one contract with the same
        topic0 the first is kept (the auditor lists the layouts of earlier contract versions after the ABI)."""
        self._events: dict[tuple[str, str], EventType] = {}
        for name, (address, abi) in contracts.items():
            address = address.lower()
            for item in abi:
                if item.get("type") == "event" and not item.get("anonymous"):
                    event = EventType(item, checksum=checksum, contract=name)
                    self._events.setdefault((address, event.topic0), event)

    def event_of(self, log: dict) -> EventType | None:
        """The event a log (JSON-RPC form: hex strings) is, or None for a log of another address or event."""
        topics = log["topics"]
        if not topics:
            return None
        address = log["address"].lower()
        return self._events.get((address, topics[0])) or self._events.get((address, topics[0].lower()))

    def decode(self, log: dict) -> tuple[EventType, dict] | None:
        """(event, arguments by name), or None for a log the codec does not know."""
        event = self.event_of(log)
        return None if event is None else (event, event.decode(log["topics"], log["data"]))

    def items(self) -> Iterable[tuple[tuple[str, str], EventType]]:
        """((lowercase address, topic0), event) for every event known."""
        return self._events.items()


class EventType:
    """One event of an ABI: its signature, topic0 and the decoder put together from its types."""

    __slots__ = ("name", "contract", "signature", "topic0", "indexed", "fields", "_topic_readers", "_head",
                 "_data_types", "_data_readers", "_data_plain")

    def __init__(self, item: dict, *, checksum: bool = True, contract: str | None = None):
        inputs = item["inputs"]
        types = [abi_type(i) for i in inputs]
        self.name: str = item["name"]
        self.contract = contract
        self.signature = f"{self.name}({','.join(types)})"
        self.topic0 = "0x" + keccak(text=self.signature).hex()
        indexed = [(i["name"], t) for i, t in zip(inputs, types) if i.get("indexed")]
        data = [(i["name"], t) for i, t in zip(inputs, types) if not i.get("indexed")]
        self.indexed = tuple(name for name, _ in indexed)
        self.fields = tuple(name for name, _ in data)
        self._topic_readers = tuple((name, k, _topic_reader(t, checksum)) for k, (name, t) in enumerate(indexed, 1))
        self._head = 32 * len(data)
        self._data_types = [t for _, t in data]
        if all(_WORD.match(t) or _word_array_items(t) for t in self._data_types):
            self._data_readers = tuple((name, _data_reader(t, 32 * k, checksum)) for k, (name, t) in enumerate(data))
            self._data_plain = ()
        else:
            self._data_readers = None
            self._data_plain = tuple((name, _plain(t, checksum)) for name, t in data)

    def __repr__(self) -> str:
        return f"EventType({self.contract + '.' if self.contract else ''}{self.signature})"

    def decode(self, topics: list[str], data: str | bytes) -> dict:
        """The arguments by name (indexed first, then data, each in ABI order) from a log's topics (0x hex, topic0
        first) and data (0x hex, or bytes). A log that does not fit the event raises ValueError."""
        if len(topics) != len(self._topic_readers) + 1:
            raise ValueError(f"{self.signature} has {len(self._topic_readers)} indexed inputs, the log "
                             f"{len(topics) - 1} topics after topic0")
        args = {}
        for name, k, read in self._topic_readers:  # loops, not comprehensions: this runs for every log of a chain
            args[name] = read(topics[k])
        return self._read_data(data, self._data_readers, args) if self.fields else args

    def decode_data(self, data: str | bytes, names: Collection[str] | None = None) -> dict:
        """The non-indexed arguments by name, or only `names` of them (the SDK reads two fields of a 1,000-item
        PointsIssued and leaves its arrays of refs and balances undecoded)."""
        readers = self._data_readers
        if names is not None and readers is not None:
            readers = tuple((name, read) for name, read in readers if name in names)
        args = self._read_data(data, readers, {})
        return args if names is None else {name: v for name, v in args.items() if name in names}

    def _read_data(self, data: str | bytes, readers: tuple | None, args: dict) -> dict:
        d = bytes.fromhex(data[2:]) if data.__class__ is str else bytes(data)
        if readers is None:
            for (name, plain), v in zip(self._data_plain, abi_decode(self._data_types, d)):
                args[name] = plain(v)
            return args
        if len(d) < self._head:
            raise ValueError(f"{self.signature}: {len(d)} bytes of data, shorter than its head")
        for name, read in readers:
            args[name] = read(d)
        return args


# -- readers, put together once an event -------------------------------------------------------------------------

_WORD = re.compile(r"^(u?int\d*|address|bool|bytes([1-9]|[12]\d|3[0-2]))$")  # types that are one word in place
_ZERO_WORD = bytes(32)


def _word_array_items(typ: str) -> list[str] | None:
    """The item types of an array of words ("uint256[]" -> ["uint256"]) or of tuples of words, else None."""
    if not typ.endswith("[]"):
        return None
    item = typ[:-2]
    parts = split_types(item[1:-1]) if item.startswith("(") and item.endswith(")") else [item]
    return parts if all(_WORD.match(p) for p in parts) else None


def _data_reader(typ: str, at: int, checksum: bool) -> Callable[[bytes], Any]:
    """The reader of a data field whose head word is at byte `at`: a word, or an array of words or of tuples."""
    if _WORD.match(typ):
        word = _word_reader(typ, checksum)
        return lambda d: word(d[at:at + 32])
    parts = _word_array_items(typ)
    readers = [_word_reader(p, checksum) for p in parts]
    width = 32 * len(parts)

    def bounds(d: bytes) -> range:
        start = int.from_bytes(d[at:at + 32]) + 32
        end = start + width * int.from_bytes(d[start - 32:start])
        if end > len(d):
            raise ValueError(f"event data of {len(d)} bytes is shorter than its array {typ} (to byte {end})")
        return range(start, end, width)

    if typ.startswith("("):
        return lambda d: [[read(d[p + 32 * k:p + 32 * k + 32]) for k, read in enumerate(readers)]
                          for p in bounds(d)]
    (read,) = readers
    return lambda d: [read(d[p:p + 32]) for p in bounds(d)]


def _word_reader(typ: str, checksum: bool) -> Callable[[bytes], Any]:
    """The value of one 32-byte word of type `typ`."""
    if typ.startswith("uint"):
        return int.from_bytes  # big-endian by default since Python 3.11
    if typ.startswith("int"):
        return partial(int.from_bytes, signed=True)
    if typ == "bool":
        return _ZERO_WORD.__ne__
    if typ == "address":
        return (lambda w: to_checksum("0x" + w[12:].hex())) if checksum else (lambda w: "0x" + w[12:].hex())
    size = int(typ[5:])
    return lambda w: "0x" + w[:size].hex()


def _topic_reader(typ: str, checksum: bool) -> Callable[[str], Any]:
    """The value of an indexed input from its topic (0x hex); a dynamic type's topic is its hash, kept as is."""
    if typ == "address":
        return (lambda t: to_checksum("0x" + t[26:])) if checksum else (lambda t: "0x" + t[26:].lower())
    if typ.startswith("uint"):
        return partial(int, base=16)
    if typ.startswith("int"):
        return lambda t: int.from_bytes(bytes.fromhex(t[2:]), signed=True)
    if typ == "bool":
        return lambda t: int(t, 16) != 0
    if _WORD.match(typ):  # bytesN: left-aligned in its topic
        size = int(typ[5:])
        return lambda t: t[:2 + 2 * size].lower()
    return str.lower


def _plain(typ: str, checksum: bool) -> Callable[[Any], Any]:
    """The plain form of a value as eth_abi decodes it (the shapes the word readers do not cover)."""
    if typ.endswith("]"):
        item = _plain(typ[:typ.rindex("[")], checksum)
        return lambda v: [item(x) for x in v]
    if typ.startswith("("):
        parts = [_plain(t, checksum) for t in split_types(typ[1:-1])]
        return lambda v: [plain(x) for plain, x in zip(parts, v)]
    if typ == "address":
        return to_checksum if checksum else str.lower
    if typ.startswith("bytes"):
        return lambda v: "0x" + v.hex()
    return lambda v: v  # int, bool, str
