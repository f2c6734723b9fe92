"""The indexer's event decoder reads ABI words directly; it must give exactly what eth_abi gives, for every
event type of every contract the indexer follows (random values, including empty arrays and negative ints)."""
from __future__ import annotations

import os
import random

import pytest
from eth_abi import decode, encode

from exchange_api.chain import CONTRACTS, _plain, decode_data, event_table
from ledger_node.abi_types import split_types


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
        return "0x" + rng.randbytes(20).hex()
    if typ == "bool":
        return rng.random() < 0.5
    if typ == "string":
        return "é" * rng.randint(0, 40)
    if typ == "bytes":
        return rng.randbytes(rng.randint(0, 70))
    return rng.randbytes(int(typ[5:]))


SPECS = [spec for spec in event_table({n: "0x" + os.urandom(20).hex() for n in CONTRACTS}).values() if spec.data]


@pytest.mark.parametrize("spec", SPECS, ids=[f"{s.contract}.{s.name}" for s in SPECS])
def test_decodeData_equalsEthAbi_forEveryEventType(spec):
    rng = random.Random(spec.name)
    for _ in range(25):
        data = encode(list(spec.data_types), [_value(t, rng) for t in spec.data_types])
        expected = [_plain(t, v) for t, v in zip(spec.data_types, decode(list(spec.data_types), data))]
        assert [_plain(t, v) for t, v in zip(spec.data_types, decode_data(spec.data_types, data))] == expected


def test_decodeData_truncatedArray_raisesInsteadOfInventingItems():
    data = encode(["uint256", "(uint256,uint256,uint256)[]"], [1, [(1, 2, 3), (4, 5, 6)]])
    with pytest.raises(ValueError):
        decode_data(("uint256", "(uint256,uint256,uint256)[]"), data[:-32])
