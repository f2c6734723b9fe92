"""Small helpers on ABI type strings, shared by the fast decoders (auditor, API) that skip web3's machinery."""
from __future__ import annotations


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
