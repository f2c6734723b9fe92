"""The fast path: hand-rolled ABI calldata and EIP-1559 transactions, byte-equal to web3 / eth-account.

web3.py's `encode_abi` manages about 6,000 items a second; issuance calldata is only 32-byte words
(uint256, address, bytes32 and arrays of them), so it is written here directly: selector, head
(static values and offsets), tail (each array's length and its packed words).
tests/issuer_sdk/test_encoding.py checks byte-equality against web3 and eth-account.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

from eth_hash.auto import keccak
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from ledger_node.rlp_encoding import encode as rlp_encode

_ZERO12 = bytes(12)
_WORD = 32
_MAX_UINT256 = (1 << 256) - 1


def word_uint(value: int) -> bytes:
    return value.to_bytes(32, "big")


def word_address(address: bytes | str) -> bytes:
    """The 32-byte ABI word of an address (as `address_bytes` reads it)."""
    if isinstance(address, str):
        return _word_from_text(address)
    return _ZERO12 + address_bytes(address)


def address_bytes(address: bytes | str) -> bytes:
    """20 raw bytes of an address given as bytes or 0x-hex; a mixed-case hex address must carry a valid
    EIP-55 checksum (all-lower or all-upper hex carries none)."""
    if isinstance(address, (bytes, bytearray)):
        if len(address) != 20:
            raise ValueError(f"an address is 20 bytes, got {len(address)}")
        return bytes(address)
    if not isinstance(address, str):
        raise ValueError(f"not an address: {address!r}")
    return _word_from_text(address)[12:]


_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


@lru_cache(maxsize=32768)  # residents recur; parsing and the checksum cost ~50x a cache hit
def _word_from_text(text: str) -> bytes:
    """A hex address as its ABI word: cached whole, so an item's resident costs one lookup."""
    if not _HEX_ADDRESS.fullmatch(text):
        raise ValueError(f"not an address: {text!r}")
    body = text[2:]
    raw = bytes.fromhex(body)
    if body != body.lower() and body != body.upper() and not _eip55_ok(body):
        raise ValueError(f"address {text} has a wrong EIP-55 checksum")
    return _ZERO12 + raw


def _eip55_ok(body: str) -> bool:
    """EIP-55: a letter is upper case where the keccak of the lower-case hex has a nibble of 8 or more (half the
    cost of eth_utils' to_checksum_address, paid once for each resident the cache has not seen)."""
    lower = body.lower()
    nibbles = keccak(lower.encode()).hex()
    return body == "".join(c.upper() if n in "89abcdef" else c for c, n in zip(lower, nibbles))


@dataclass(frozen=True)
class FastFunction:
    """Encoder for one ABI function whose inputs are 32-byte static types or arrays of them.

    `encode(*args)`: scalars as int / bytes32 / address (20 bytes or hex); arrays as sequences.
    Amount and scheme values are checked to fit uint256; refs must be exactly 32 bytes.
    """

    name: str
    types: tuple[str, ...]
    selector: bytes

    @classmethod
    def from_abi(cls, abi: list[dict], name: str, n_inputs: int | None = None) -> "FastFunction":
        for item in abi:
            if item.get("type") == "function" and item["name"] == name and \
                    (n_inputs is None or len(item["inputs"]) == n_inputs):
                return cls.from_types(name, [i["type"] for i in item["inputs"]])
        raise KeyError(f"function {name} not in the ABI")

    @classmethod
    def from_types(cls, name: str, types: Sequence[str]) -> "FastFunction":
        for t in types:
            base = t[:-2] if t.endswith("[]") else t
            if not _is_word(base) or "[" in base:
                raise ValueError(f"{name}: type {t} has no fast encoding (only 32-byte words and arrays of them)")
        signature = f"{name}({','.join(types)})"
        return cls(name, tuple(types), function_signature_to_4byte_selector(signature))

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(self.types)})"

    def encode(self, *args) -> bytes:
        if len(args) != len(self.types):
            raise TypeError(f"{self.signature} takes {len(self.types)} arguments, got {len(args)}")
        head: list[bytes] = []
        tail: list[bytes] = []
        offset = _WORD * len(self.types)
        for t, value in zip(self.types, args):
            if t.endswith("[]"):
                enc = _ENCODERS[_kind(t[:-2])]
                words = [enc(v) for v in value]
                head.append(word_uint(offset))
                tail.append(word_uint(len(words)))
                tail.extend(words)
                offset += _WORD * (len(words) + 1)
            else:
                head.append(_ENCODERS[_kind(t)](value))
        return b"".join((self.selector, *head, *tail))

    def encode_batch_words(self, scalars_before: Sequence, arrays: Sequence[Sequence[bytes]],
                           scalars_after: Sequence = ()) -> bytes:
        """Fastest form: arrays already given as 32-byte words (e.g. from `IssuanceWords`)."""
        head: list[bytes] = [_ENCODERS[_kind(t)](v) for t, v in zip(self.types, scalars_before)]
        offset = _WORD * len(self.types)
        tail: list[bytes] = []
        for words in arrays:
            head.append(word_uint(offset))
            tail.append(word_uint(len(words)))
            tail.extend(words)
            offset += _WORD * (len(words) + 1)
        n_scalar_after = len(self.types) - len(scalars_before) - len(arrays)
        for t, v in zip(self.types[len(self.types) - n_scalar_after:], scalars_after):
            head.append(_ENCODERS[_kind(t)](v))
        return b"".join((self.selector, *head, *tail))


def _is_word(t: str) -> bool:
    return t in ("address", "bool", "bytes32") or (t.startswith(("uint", "int")) and t[-1].isdigit() or t in ("uint", "int"))


def _kind(t: str) -> str:
    if t == "address":
        return "address"
    if t == "bytes32":
        return "bytes32"
    if t == "bool":
        return "bool"
    if t.startswith("uint"):
        return "uint"
    return "int"


def _enc_uint(v: int) -> bytes:
    if not isinstance(v, int) or isinstance(v, bool) or v < 0 or v > _MAX_UINT256:
        raise ValueError(f"not a uint256: {v!r}")
    return v.to_bytes(32, "big")


def _enc_int(v: int) -> bytes:
    return v.to_bytes(32, "big", signed=True)


def _enc_bytes32(v: bytes) -> bytes:
    if len(v) != 32:
        raise ValueError(f"a bytes32 is 32 bytes, got {len(v)}")
    return bytes(v)


def _enc_bool(v: bool) -> bytes:
    return word_uint(1 if v else 0)


_ENCODERS = {"uint": _enc_uint, "int": _enc_int, "address": word_address, "bytes32": _enc_bytes32, "bool": _enc_bool}


# -- EIP-1559 transactions -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UnsignedTx:
    """A type-2 transaction with the zero fees this chain runs on (both fee fields are kept explicit)."""

    chain_id: int
    nonce: int
    gas: int
    to: bytes  # 20 bytes
    data: bytes
    value: int = 0
    max_priority_fee_per_gas: int = 0
    max_fee_per_gas: int = 0

    def _fields(self) -> list:
        return [self.chain_id, self.nonce, self.max_priority_fee_per_gas, self.max_fee_per_gas, self.gas,
                self.to, self.value, self.data, []]

    def signing_hash(self) -> bytes:
        return keccak(b"\x02" + rlp_encode(self._fields()))

    def with_signature(self, y_parity: int, r: int, s: int) -> bytes:
        """The raw signed transaction bytes for eth_sendRawTransaction."""
        return b"\x02" + rlp_encode(self._fields() + [y_parity, r, s])

    def as_dict(self) -> dict:
        """The same transaction as eth-account / web3 spell it (for HSM signers and tests)."""
        return {"type": 2, "chainId": self.chain_id, "nonce": self.nonce, "gas": self.gas,
                "to": to_checksum_address(self.to), "value": self.value, "data": "0x" + self.data.hex(),
                "maxFeePerGas": self.max_fee_per_gas, "maxPriorityFeePerGas": self.max_priority_fee_per_gas,
                "accessList": []}


def tx_hash(raw: bytes) -> str:
    return "0x" + keccak(raw).hex()
