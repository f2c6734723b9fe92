"""Small helpers on ABI type strings, shared by the project's decoders (the event codec, revert data, the audit's
eth_call comparison) that skip web3's machinery, and the one encoder of contract calls (`encode_abi`)."""
from __future__ import annotations

from functools import lru_cache
from typing import Callable


def abi_type(item: dict) -> str:
    """The canonical type of an ABI input: tuples spelled out, "(uint256,address)[]" for a `tuple[]`."""
    if item["type"].startswith("tuple"):
        return f"({','.join(abi_type(c) for c in item['components'])}){item['type'][5:]}"
    return item["type"]


def split_types(inner: str) -> list[str]:
    """Split a comma-separated ABI type list at the top level: "uint256,(address,bytes)[]" -> 2 types."""
    out, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    if cur:
        out.append(cur)
    return out


def encode_abi(types: list[str] | tuple[str, ...], values) -> bytes:
    """The ABI encoding (the Solidity specification's heads and tails) of `values` as `types`: uintN, intN, address,
    bool, bytesN, bytes, string, T[] and tuples "(...)" of them; byte-equal to eth_abi's (tests/exchange_api/
    test_call_encoding.py), at a fraction of its cost: eth_abi's encoder objects were 6% of the API process's time
    at 200 redemptions a second, one `redeem` call each. Values out of their type's range raise ValueError."""
    return _encoder("(" + ",".join(types) + ")")[2](values)


def is_dynamic(t: str) -> bool:
    """Whether `t` is encoded in the tail (bytes, string, T[], a tuple holding one); ValueError for a type
    encode_abi does not encode."""
    return _encoder(t)[0]


@lru_cache(maxsize=None)
def _encoder(t: str) -> tuple[bool, int, Callable]:
    """(dynamic, size in the head, value -> bytes) of a type, built once per type string."""
    if t.endswith("[]"):
        element = t[:-2]
        dynamic_items, _, item = _encoder(element)

        def array(v) -> bytes:
            items = list(v)
            if not dynamic_items:  # static items sit one after the other
                return len(items).to_bytes(32, "big") + b"".join(item(x) for x in items)
            return len(items).to_bytes(32, "big") + _tuple_of([element] * len(items))(items)
        return True, 32, array
    if t.startswith("("):
        components = split_types(t[1:-1])
        encode = _tuple_of(components)
        dynamic = any(_encoder(c)[0] for c in components)
        return dynamic, 32 if dynamic else sum(_encoder(c)[1] for c in components), encode
    if t in ("bytes", "string"):
        def blob(v) -> bytes:
            raw = v.encode() if t == "string" else bytes(v)
            return len(raw).to_bytes(32, "big") + raw + bytes(-len(raw) % 32)
        return True, 32, blob
    if t.endswith("]"):
        raise ValueError(f"{t}: fixed-size arrays are not encoded here")
    return False, 32, _word_encoder(t)


def _tuple_of(components: list[str]) -> Callable:
    parts = [_encoder(c) for c in components]
    head_size = sum(size for _, size, _ in parts)

    def encode(values) -> bytes:
        values = list(values)
        if len(values) != len(parts):
            raise ValueError(f"{len(parts)} types, {len(values)} values")
        heads: list[bytes] = []
        tails: list[bytes] = []
        offset = head_size
        for (dynamic, _, enc), v in zip(parts, values):
            if dynamic:
                heads.append(offset.to_bytes(32, "big"))
                tail = enc(v)
                tails.append(tail)
                offset += len(tail)
            else:
                heads.append(enc(v))
        return b"".join(heads + tails)
    return encode


def _word_encoder(t: str) -> Callable:
    if t.startswith("uint"):
        top = 1 << int(t[4:] or 256)

        def uint(v) -> bytes:
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < top:
                raise ValueError(f"{v!r} is not a {t}")
            return v.to_bytes(32, "big")
        return uint
    if t.startswith("int"):
        half = 1 << int(t[3:] or 256) - 1

        def int_(v) -> bytes:
            if not isinstance(v, int) or isinstance(v, bool) or not -half <= v < half:
                raise ValueError(f"{v!r} is not an {t}")
            return v.to_bytes(32, "big", signed=True)
        return int_
    if t == "address":
        def address(v) -> bytes:
            raw = bytes.fromhex(v[2:] if v[:2] in ("0x", "0X") else v) if isinstance(v, str) else bytes(v)
            if len(raw) != 20:
                raise ValueError(f"{v!r} is not an address")
            return bytes(12) + raw
        return address
    if t == "bool":
        def boolean(v) -> bytes:
            if not isinstance(v, bool):
                raise ValueError(f"{v!r} is not a bool")
            return (1 if v else 0).to_bytes(32, "big")
        return boolean
    if t.startswith("bytes") and t[5:].isdigit():
        n = int(t[5:])

        def fixed(v) -> bytes:
            raw = bytes(v)
            if len(raw) > n:
                raise ValueError(f"{len(raw)} bytes do not fit a {t}")
            return raw + bytes(32 - len(raw))
        return fixed
    raise ValueError(f"{t} is not an ABI type encoded here")
