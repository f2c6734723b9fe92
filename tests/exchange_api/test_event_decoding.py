"""The one event codec (ledger_node.event_codec) reads ABI words directly; it must give what web3's own decoding
gives, for every event of every compiled contract (logs synthesized with eth_abi: random values, empty arrays,
negative ints, indexed values of every kind), with addresses checksummed or, for the auditor, lowercase."""
from __future__ import annotations

import os
import random
import re
from collections.abc import Mapping

import pytest
from eth_abi import encode
from eth_utils import keccak
from web3 import Web3

from ledger_node.abi_types import abi_type, split_types
from ledger_node.compiler import load_all
from ledger_node.event_codec import EventCodec, EventType

ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def _events() -> list[tuple[str, dict]]:
    """(contract, event item) for every event of every artifact; an interface's copy of an event counted once."""
    seen, out = set(), []
    for contract, artifact in load_all().items():
        for item in artifact.get("abi", []):
            if item["type"] != "event" or item.get("anonymous"):
                continue
            key = (item["name"], tuple((i["name"], abi_type(i), i["indexed"]) for i in item["inputs"]))
            if key not in seen:
                seen.add(key)
                out.append((contract, item))
    return out


EVENTS = _events()


def _value(typ: str, rng: random.Random):
    if typ.endswith("[]"):
        return [_value(typ[:-2], rng) for _ in range(rng.randint(0, 4))]
    if typ.startswith("("):
        return tuple(_value(c, rng) for c in split_types(typ[1:-1]))
    if typ.startswith("uint"):
        return rng.getrandbits(int(typ[4:] or 256))
    if typ.startswith("int"):
        bits = int(typ[3:] or 256)
        return rng.getrandbits(bits) - 2 ** (bits - 1)
    if typ == "address":
        return Web3.to_checksum_address("0x" + rng.randbytes(20).hex())
    if typ == "bool":
        return rng.random() < 0.5
    if typ == "string":
        return "é" * rng.randint(0, 40)
    if typ == "bytes":
        return rng.randbytes(rng.randint(0, 70))
    return rng.randbytes(int(typ[5:]))


def _log(item: dict, address: str, rng: random.Random) -> dict:
    """A log of `item` with random arguments, in JSON-RPC form (hex strings)."""
    types = [abi_type(i) for i in item["inputs"]]
    values = [_value(t, rng) for t in types]
    topics = [keccak(text=f"{item['name']}({','.join(types)})")]
    for i, t, v in zip(item["inputs"], types, values):
        if i["indexed"]:  # a dynamic value is indexed by its hash
            dynamic = t in ("bytes", "string") or t.endswith("]") or t.startswith("(")
            topics.append(keccak(encode([t], [v])) if dynamic else encode([t], [v]))
    data = encode([t for i, t in zip(item["inputs"], types) if not i["indexed"]],
                  [v for i, v in zip(item["inputs"], values) if not i["indexed"]])
    return {"address": address.lower(), "topics": ["0x" + t.hex() for t in topics], "data": "0x" + data.hex(),
            "blockNumber": "0x1", "blockHash": "0x" + bytes(32).hex(), "transactionHash": "0x" + rng.randbytes(32).hex(),
            "transactionIndex": "0x0", "logIndex": "0x0"}


def _web3_args(item: dict, log: dict) -> dict:
    """web3's decoding of the log (Contract.events.<name>().process_log), in the codec's plain form."""
    contract = Web3().eth.contract(address=Web3.to_checksum_address(log["address"]), abi=[item])
    entry = {**log, "topics": [bytes.fromhex(t[2:]) for t in log["topics"]], "data": bytes.fromhex(log["data"][2:]),
             "blockNumber": 1, "transactionIndex": 0, "logIndex": 0}
    return {k: _plain(v) for k, v in getattr(contract.events, item["name"])().process_log(entry)["args"].items()}


def _plain(v):
    if isinstance(v, (bytes, bytearray)):
        return "0x" + bytes(v).hex()
    if isinstance(v, Mapping):  # a tuple, by component name
        return [_plain(x) for x in v.values()]
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _lower_addresses(v):
    if isinstance(v, list):
        return [_lower_addresses(x) for x in v]
    return v.lower() if isinstance(v, str) and ADDRESS.match(v) else v


@pytest.mark.parametrize("contract,item", EVENTS, ids=[f"{c}.{i['name']}" for c, i in EVENTS])
def test_decode_equalsWeb3_forEveryEventOfEveryContract(contract, item):
    rng = random.Random(f"{contract}.{item['name']}")
    address = "0x" + rng.randbytes(20).hex()
    checksummed = EventCodec({contract: (address, [item])})
    lowercase = EventCodec({contract: (address, [item])}, checksum=False)
    for _ in range(25):
        log = _log(item, address, rng)
        expected = _web3_args(item, log)
        event, args = checksummed.decode(log)
        assert (event.contract, event.name) == (contract, item["name"])
        assert args == expected and list(args) == [*event.indexed, *event.fields]
        assert lowercase.decode(log)[1] == {k: _lower_addresses(v) for k, v in expected.items()}


def test_decodeData_someFields_areThoseOfTheWholeDecoding():
    (item,) = [i for c, i in EVENTS if i["name"] == "PointsIssued"]
    event, rng = EventType(item), random.Random(1)
    for _ in range(10):
        data = _log(item, "0x" + bytes(20).hex(), rng)["data"]
        whole = event.decode_data(data)
        assert event.decode_data(bytes.fromhex(data[2:]), ("skipped", "issuedAmount")) == \
            {"skipped": whole["skipped"], "issuedAmount": whole["issuedAmount"]}


def test_decodeData_truncatedArray_raisesInsteadOfInventingItems():
    (item,) = [i for c, i in EVENTS if i["name"] == "Redeemed"]
    data = encode(["bytes32", "bytes32", "uint256", "(uint256,uint256,uint256)[]"],
                  [b"\x01" * 32, b"\x02" * 32, 10, [(1, 2, 3), (4, 5, 6)]])
    with pytest.raises(ValueError):
        EventType(item).decode_data(data[:-32])
    with pytest.raises(ValueError):  # an offset past the end
        EventType(item).decode_data(data[:96] + (10**6).to_bytes(32, "big") + data[128:])


def test_decode_logNotFittingItsEvent_raises():
    (item,) = [i for c, i in EVENTS if i["name"] == "TransferSingle"]
    log = _log(item, "0x" + bytes(20).hex(), random.Random(2))
    with pytest.raises(ValueError):
        EventType(item).decode(log["topics"][:-1], log["data"])  # a topic short (another event, same topic0)
    with pytest.raises(ValueError):
        EventType(item).decode(log["topics"], log["data"][:-64])  # data shorter than its head


def test_codec_knowsEventsByAddressAndTopic_caseOfHexAside():
    (contract, item), = [(c, i) for c, i in EVENTS if i["name"] == "TransferSingle"]
    address = "0x" + os.urandom(20).hex()
    codec = EventCodec({contract: (address.upper().replace("0X", "0x"), [item])})
    log = _log(item, address, random.Random(3))
    assert codec.decode({**log, "topics": [log["topics"][0].upper().replace("0X", "0x"), *log["topics"][1:]]})
    assert codec.decode({**log, "address": "0x" + os.urandom(20).hex()}) is None
    assert codec.decode({**log, "topics": ["0x" + bytes(32).hex(), *log["topics"][1:]]}) is None
    assert codec.decode({**log, "topics": []}) is None
    ((key_address, topic0), event), = codec.items()
    assert (key_address, topic0, event.topic0) == (address, log["topics"][0], log["topics"][0])
