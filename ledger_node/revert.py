"""Decode revert data into the custom error of any CityPoints contract (or OpenZeppelin's, or Error(string)).

What an error means to a caller (its stable code, message and HTTP status) is in ledger_node.contract_errors.
"""
from __future__ import annotations

from functools import lru_cache

from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from ledger_node.abi_types import abi_type
from ledger_node.compiler import load_all


@lru_cache(maxsize=1)
def error_table() -> dict[bytes, tuple[str, list[str]]]:
    table: dict[bytes, tuple[str, list[str]]] = {
        function_signature_to_4byte_selector("Error(string)"): ("Error", ["string"]),
        function_signature_to_4byte_selector("Panic(uint256)"): ("Panic", ["uint256"]),
    }
    for artifact in load_all().values():
        for item in artifact["abi"]:
            if item["type"] == "error":
                types = [abi_type(i) for i in item["inputs"]]
                sig = f"{item['name']}({','.join(types)})"
                table[function_signature_to_4byte_selector(sig)] = (item["name"], types)
    return table


def decode_revert(data: str | bytes | None) -> tuple[str, tuple] | None:
    if not data:
        return None
    raw = bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else bytes(data)
    entry = error_table().get(raw[:4])
    if not entry:
        return None
    name, types = entry
    try:
        values = decode(types, raw[4:])
    except Exception:  # malformed data under a known selector: name it anyway
        return name, ()
    return name, tuple(to_checksum_address(v) if t == "address" else v for t, v in zip(types, values))
