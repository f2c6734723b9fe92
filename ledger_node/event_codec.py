"""The project's one ABI event codec: topic0 -> event, and a log -> the event's arguments by name.

The issuer SDK (its PointsIssued logs and receipts), the API (the indexer, the relayer's confirmations) and the
auditor read events through it, so an event reads the same everywhere. The auditor keeps its trust boundary:
this is code that reads what the node returned, not a source of data.

An event's decoder is put together once from its ABI types. For the shapes the contracts' events use (words,
arrays of words, arrays of tuples of words) it is one small function, generated from the types (as `dataclasses`
and `namedtuple` generate theirs), that reads the 32-byte words straight from the log's hex string: one call and
one dict per log, no bytes copy, no call per field. Any other shape goes through eth_abi's decoder. The indexer and
the auditor decode every log of the chain (the audit's bench: 200,000 logs), and per-field calls were most of
their time, as eth_abi's general decoder had been before. tests/exchange_api/test_event_decoding.py holds the
codec equal to web3's own decoding for every event of every contract.

Values come out plain, ready for JSON: int, bool, str; bytes and bytesN as lowercase 0x hex; arrays and tuples as
lists; an indexed value of a dynamic type as its topic (the value's hash). Addresses are checksummed (EIP-55), or
lowercase 0x hex with `checksum=False`: the auditor keys its state on lowercase addresses, and checksumming an
address not seen before costs ~18 µs, more than decoding the rest of its log.
"""
from __future__ import annotations

import re
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
                 "_data_types", "_data_plain", "_checksum", "_data", "_decoders", "_decode",
                 "_indexed_types")

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
        self._indexed_types = tuple(indexed)
        self._topic_readers = tuple((name, k, _topic_reader(t, checksum)) for k, (name, t) in enumerate(indexed, 1))
        self._head = 32 * len(data)
        self._data_types = [t for _, t in data]
        self._checksum = checksum
        self._data = tuple(data)
        self._decoders: dict[frozenset | None, Callable] = {}
        if all(_WORD.match(t) or _word_array_items(t) for t in self._data_types):
            self._data_plain = None
            self._decode = self._generated(None)
        else:
            self._data_plain = tuple((name, _plain(t, checksum)) for name, t in data)
            self._decode = None

    def __repr__(self) -> str:
        return f"EventType({self.contract + '.' if self.contract else ''}{self.signature})"

    def decode(self, topics: list[str], data: str | bytes) -> dict:
        """The arguments by name (indexed first, then data, each in ABI order) from a log's topics (0x hex, topic0
        first) and data (0x hex, or bytes). A log that does not fit the event raises ValueError."""
        if self._decode is not None:
            return self._decode(topics, data)
        if len(topics) != len(self._topic_readers) + 1:
            raise ValueError(self._topics_error(topics))
        args = {}
        for name, k, read in self._topic_readers:
            args[name] = read(topics[k])
        return self._abi_data(data, args)

    @property
    def decoder(self) -> Callable[[list[str], str | bytes], dict]:
        """`decode` itself, or the generated function it calls (one call less a log, for callers that decode every
        log of a chain: the auditor)."""
        return self._decode if self._decode is not None else self.decode

    def decode_data(self, data: str | bytes, names: Collection[str] | None = None) -> dict:
        """The non-indexed arguments by name, or only `names` of them (the SDK reads two fields of a 1,000-item
        PointsIssued and leaves its arrays of refs and balances undecoded)."""
        if self._data_plain is not None:
            args = self._abi_data(data, {})
            return args if names is None else {name: v for name, v in args.items() if name in names}
        key = None if names is None else frozenset(names)
        decoder = self._decoders.get(key)
        if decoder is None:
            decoder = self._decoders[key] = self._generated(key, topics=False)
        return decoder(data)

    def _abi_data(self, data: str | bytes, args: dict) -> dict:
        """The data fields of a shape the generated decoders do not read, through eth_abi."""
        d = bytes.fromhex(data[2:]) if data.__class__ is str else bytes(data)
        for (name, plain), v in zip(self._data_plain, abi_decode(self._data_types, d)):
            args[name] = plain(v)
        return args

    def _topics_error(self, topics: list[str]) -> str:
        return (f"{self.signature} has {len(self._topic_readers)} indexed inputs, the log {len(topics) - 1} topics "
                f"after topic0")

    def _data_error(self, data: str) -> str:
        return f"{self.signature}: {(len(data) - 2) // 2} bytes of data, shorter than its head"

    def _generated(self, names: frozenset | None, *, topics: bool = True) -> Callable:
        """The decoder of this event as one generated function: `(topics, data) -> args` (or `(data) -> args` of
        the data fields in `names`, all if None). It reads words from the data's hex string: a number is
        int.from_bytes(bytes.fromhex(hex)), an address or bytesN the hex itself; arrays go through `_hex_array`."""
        topics_read = _ADDRESS_TOPICS[self._checksum]
        env: dict[str, Any] = {"_cs": to_checksum, "_int_topic": _signed_topic, "_signed": _signed_hex,
                               "_array": _hex_array, "_ValueError": ValueError, "_event": self,
                               "_uint": int.from_bytes, "_fromhex": bytes.fromhex,
                               "_addresses": topics_read.known, "_address": topics_read.read}
        body, items = [], []
        if topics:
            body.append(f"    if len(topics) != {len(self._topic_readers) + 1}: "
                        f"raise _ValueError(_event._topics_error(topics))")
            for k, (name, typ) in enumerate(self._indexed_types, 1):
                items.append((name, _topic_expr(typ, f"topics[{k}]", self._checksum)))
        if self._data and (names is None or names & set(self.fields)):
            body.append("    if data.__class__ is not str: data = '0x' + bytes(data).hex()")
            body.append(f"    if len(data) < {2 + 2 * self._head} or len(data) & 1: "
                        f"raise _ValueError(_event._data_error(data))")
            if any(not t.startswith(("uint", "int", "bool")) for t in self._data_types):
                body.append("    data = data.lower()")
            for k, (name, typ) in enumerate(self._data):
                if names is not None and name not in names:
                    continue
                at = 2 + 64 * k
                if _WORD.match(typ):
                    items.append((name, _word_expr(typ, at, self._checksum)))
                else:
                    parts = _word_array_items(typ)
                    env[f"_item{k}"] = _hex_item(parts, self._checksum, tuple_=typ.startswith("("))
                    items.append((name, f"_array(data, {at}, {len(parts)}, _item{k}, {typ!r})"))
        args = ", ".join(f"{name!r}: {expr}" for name, expr in items)
        params = "topics, data" if topics else "data"
        source = f"def decode({params}):\n" + "\n".join(body + [f"    return {{{args}}}"]) + "\n"
        exec(compile(source, f"<event_codec {self.signature}>", "exec"), env)  # noqa: S102 - our own source
        return env["decode"]


# -- readers, put together once an event -------------------------------------------------------------------------

_WORD = re.compile(r"^(u?int\d*|address|bool|bytes([1-9]|[12]\d|3[0-2]))$")  # types that are one word in place


def _word_array_items(typ: str) -> list[str] | None:
    """The item types of an array of words ("uint256[]" -> ["uint256"]) or of tuples of words, else None."""
    if not typ.endswith("[]"):
        return None
    item = typ[:-2]
    parts = split_types(item[1:-1]) if item.startswith("(") and item.endswith(")") else [item]
    return parts if all(_WORD.match(p) for p in parts) else None


def _word_expr(typ: str, at: int, checksum: bool, base: str = "") -> str:
    """Source of the value of the one-word `typ` at hex position `base + at` of `data` (lowercase 0x hex)."""
    pos = (lambda n: f"{base} + {n}" if n else base) if base else str  # noqa: E731

    def hex_(begin: int, end: int) -> str:
        return f"data[{pos(begin)}:{pos(end)}]"

    if typ.startswith("uint"):  # int.from_bytes(bytes.fromhex(word)): a third less than int(word, 16)
        return f"_uint(_fromhex({hex_(at, at + 64)}))"
    if typ.startswith("int"):
        return f"_signed({hex_(at, at + 64)})"
    if typ == "bool":
        return f"_uint(_fromhex({hex_(at, at + 64)})) != 0"
    if typ == "address":
        return f"_cs('0x' + {hex_(at + 24, at + 64)})" if checksum else f"'0x' + {hex_(at + 24, at + 64)}"
    return f"'0x' + {hex_(at, at + 2 * int(typ[5:]))}"  # bytesN: left-aligned in its word


def _topic_expr(typ: str, topic: str, checksum: bool) -> str:
    """Source of the value of an indexed input from its topic (0x hex); a dynamic type's topic is its hash."""
    if typ == "address":  # the same few thousand accounts recur in every log: read each topic once
        return f"(_addresses.get({topic}) or _address({topic}))"
    if typ.startswith("uint"):
        return f"_uint(_fromhex({topic}[2:]))"
    if typ.startswith("int"):
        return f"_int_topic({topic})"
    if typ == "bool":
        return f"_uint(_fromhex({topic}[2:])) != 0"
    if _WORD.match(typ):  # bytesN: left-aligned in its topic
        return f"{topic}[:{2 + 2 * int(typ[5:])}].lower()"
    return f"{topic}.lower()"


def _hex_item(parts: list[str], checksum: bool, tuple_: bool) -> Callable[[str, range], list]:
    """The reader of an array's items (words, or tuples of words) at the hex positions of `positions`."""
    env = {"_cs": to_checksum, "_signed": _signed_hex, "_uint": int.from_bytes, "_fromhex": bytes.fromhex}
    if tuple_:
        expr = f"[{', '.join(_word_expr(t, 64 * k, checksum, 'q') for k, t in enumerate(parts))}]"
    else:
        expr = _word_expr(parts[0], 0, checksum, "q")
    source = f"def items(data, positions):\n    return [{expr} for q in positions]\n"
    exec(compile(source, f"<event_codec array item {parts}>", "exec"), env)  # noqa: S102 - our own source
    return env["items"]


def _hex_array(data: str, at: int, width: int, items: Callable[[str, range], list], typ: str) -> list:
    """The array whose head word (its offset) is at hex position `at` of `data`, of items `width` words wide."""
    start = 2 + 2 * int(data[at:at + 64], 16) + 64  # its items begin after its length word
    if start > len(data):
        raise ValueError(f"event data of {(len(data) - 2) // 2} bytes is shorter than its array {typ} "
                         f"(to byte {(start - 2) // 2})")
    end = start + 64 * width * int(data[start - 64:start], 16)
    if end > len(data):
        raise ValueError(f"event data of {(len(data) - 2) // 2} bytes is shorter than its array {typ} "
                         f"(to byte {(end - 2) // 2})")
    return items(data, range(start, end, 64 * width))


class _AddressTopics:
    """Address topics read before -> their value (checksummed, or lowercase), at most `size` of them: an account's
    topic recurs in log after log (a resident's every receipt, the issuer's every item), and reading it again
    costs three new strings (lowercase) or a checksum (~18 µs)."""

    def __init__(self, checksum: bool, size: int = 100_000):
        self.known: dict[str, str] = {}
        self.checksum, self.size = checksum, size

    def read(self, topic: str) -> str:
        value = to_checksum("0x" + topic[26:]) if self.checksum else "0x" + topic[26:].lower()
        if len(self.known) >= self.size:
            self.known.clear()
        self.known[topic] = value
        return value


_ADDRESS_TOPICS = {True: _AddressTopics(True), False: _AddressTopics(False)}


def _signed_hex(word: str) -> int:
    return int.from_bytes(bytes.fromhex(word), signed=True)


def _signed_topic(topic: str) -> int:
    return int.from_bytes(bytes.fromhex(topic[2:]), signed=True)


def _topic_reader(typ: str, checksum: bool) -> Callable[[str], Any]:
    """The value of an indexed input from its topic (0x hex); a dynamic type's topic is its hash, kept as is."""
    if typ == "address":
        return (lambda t: to_checksum("0x" + t[26:])) if checksum else (lambda t: "0x" + t[26:].lower())
    if typ.startswith("uint"):
        return lambda t: int(t, 16)
    if typ.startswith("int"):
        return _signed_topic
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
