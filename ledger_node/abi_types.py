"""Small helpers on ABI type strings, shared by the project's decoders (the event codec, revert data, the audit's
eth_call comparison, call encoding) that skip web3's machinery."""
from __future__ import annotations


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
