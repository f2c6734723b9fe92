"""The calls the service sends are encoded by ledger_node.abi_types.encode_abi: byte-equal to eth_abi's encoding for
every function signature the code names (`fn("...")`), over generated values, and out-of-range values refused."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from eth_abi import encode as eth_abi_encode
from hypothesis import given, settings, strategies as st

from exchange_api.chain import fn
from ledger_node.abi_types import encode_abi, split_types

ROOT = Path(__file__).resolve().parents[2]
SIGNATURES = sorted({m for d in ("exchange_api", "ledger_node") for f in (ROOT / d).rglob("*.py")
                     for m in re.findall(r'\bfn\("([^"]+)"\)', f.read_text())})


def values(t: str) -> st.SearchStrategy:
    if t.endswith("[]"):
        return st.lists(values(t[:-2]), max_size=4)
    if t.startswith("("):
        return st.tuples(*(values(c) for c in split_types(t[1:-1])))
    if t.startswith("uint"):
        return st.integers(min_value=0, max_value=2 ** int(t[4:] or 256) - 1)
    if t == "address":
        return st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
    if t == "bytes32":
        return st.binary(min_size=32, max_size=32)
    if t == "bytes":
        return st.binary(max_size=100)
    if t == "string":
        return st.text(max_size=40)
    if t == "bool":
        return st.booleans()
    if t.startswith("int"):
        half = 2 ** (int(t[3:] or 256) - 1)
        return st.integers(min_value=-half, max_value=half - 1)
    raise AssertionError(f"no strategy for {t}: add one")


def test_theCodeNamesTheSignaturesThisTestCovers():
    assert len(SIGNATURES) >= 30 and any(s.startswith("redeem((") for s in SIGNATURES)


@pytest.mark.parametrize("signature", SIGNATURES)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_encodeAbi_equalsEthAbi(signature, data):
    f = fn(signature)
    args = data.draw(st.tuples(*(values(t) for t in f.types)))
    assert f.encode(*args) == f.selector + eth_abi_encode(list(f.types), list(args))


@pytest.mark.parametrize("types", [["(address,bytes)[]", "string"], ["(uint8,(bool,bytes)[],int64)", "string[]"]])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_encodeAbi_equalsEthAbi_forDynamicTypesInsideDynamicTypes(types, data):
    args = data.draw(st.tuples(*(values(t) for t in types)))
    assert encode_abi(types, args) == eth_abi_encode(types, list(args))


@pytest.mark.parametrize("t, value", [("uint256", 2**256), ("uint256", -1), ("uint16", 2**16), ("uint256", True),
                                      ("address", b"\x01" * 19), ("bytes32", b"\x01" * 33), ("bool", 1)])
def test_encodeAbi_refusesAValueOutsideItsType(t, value):
    with pytest.raises(ValueError):
        encode_abi([t], [value])
