"""QBFT genesis `extraData`: encode and decode.

Format (Besu docs, QBFT "Extra data", and Besu's `QbftExtraDataCodec`):

    RLP([32 bytes vanity, [validator addresses], vote, round, [seals]])

- vote: an empty RLP list (0xc0) when there is no vote, as in the genesis block; otherwise
  [recipient address, 0xFF for add | empty bytes for drop];
- round: an RLP *scalar* (`writeIntScalar`), so round 0 is the empty byte string 0x80. (IBFT 2.0
  writes the round as 4 bytes, 0x8400000000; QBFT does not — the Besu docs' QBFT example ends in
  `c080c0`.)
- seals: empty in the genesis block.

https://besu.hyperledger.org/private-networks/how-to/configure/consensus/qbft#extra-data
https://github.com/hyperledger/besu/blob/main/consensus/qbft/src/main/java/org/hyperledger/besu/consensus/qbft/QbftExtraDataCodec.java

The RLP is written by hand on purpose (ledger_node.rlp_encoding, and the strict decoder below): the tests decode it
with the independent `rlp` package.
"""
from __future__ import annotations

from dataclasses import dataclass

from eth_utils import to_checksum_address

from ..rlp_encoding import encode as rlp_encode
from . import errors as E
from .errors import ConsortiumError

VANITY_LENGTH = 32
VOTE_ADD = b"\xff"


@dataclass(frozen=True)
class QbftExtraData:
    vanity: bytes
    validators: tuple[str, ...]  # checksummed
    vote: tuple[str, bool] | None  # (recipient, add?)
    round: int
    seals: tuple[bytes, ...]


# --- minimal RLP --------------------------------------------------------------------------------

def _rlp_decode_item(data: bytes, pos: int) -> tuple[object, int]:
    """Decode one item at pos; returns (bytes | list, next position). Strict (canonical) RLP."""
    if pos >= len(data):
        raise ValueError("truncated RLP")
    prefix = data[pos]
    if prefix < 0x80:
        return data[pos : pos + 1], pos + 1
    if prefix < 0xB8:
        length, start = prefix - 0x80, pos + 1
        if length == 1 and start < len(data) and data[start] < 0x80:
            raise ValueError("non-canonical single byte")
        return _slice(data, start, length), start + length
    if prefix < 0xC0:
        length, start = _long_length(data, pos, prefix - 0xB7)
        return _slice(data, start, length), start + length
    if prefix < 0xF8:
        length, start = prefix - 0xC0, pos + 1
    else:
        length, start = _long_length(data, pos, prefix - 0xF7)
    end = start + length
    if end > len(data):
        raise ValueError("truncated RLP list")
    items, cur = [], start
    while cur < end:
        item, cur = _rlp_decode_item(data, cur)
        items.append(item)
    if cur != end:
        raise ValueError("RLP list length mismatch")
    return items, end


def _long_length(data: bytes, pos: int, size: int) -> tuple[int, int]:
    raw = _slice(data, pos + 1, size)
    if raw[:1] == b"\x00":
        raise ValueError("non-canonical length")
    length = int.from_bytes(raw, "big")
    if length < 56:
        raise ValueError("non-canonical long length")
    return length, pos + 1 + size


def _slice(data: bytes, start: int, length: int) -> bytes:
    if start + length > len(data):
        raise ValueError("truncated RLP string")
    return data[start : start + length]


# --- QBFT extraData -----------------------------------------------------------------------------

def encode_qbft_extra_data(validators: list[str], vanity: bytes = b"\x00" * VANITY_LENGTH) -> str:
    """The genesis extraData for these validators, in the order given, as 0x-hex."""
    if len(vanity) != VANITY_LENGTH:
        raise ValueError("vanity must be 32 bytes")
    addresses = [_address_bytes(v) for v in validators]
    if len(set(addresses)) != len(addresses):
        raise ConsortiumError(E.EXTRADATA_INVALID, "a validator address is listed twice")
    encoded = rlp_encode([vanity, addresses, [], 0, []])  # no vote, round 0, no seals
    return "0x" + encoded.hex()


def decode_qbft_extra_data(extra_data: str | bytes) -> QbftExtraData:
    if isinstance(extra_data, str):
        text = extra_data[2:] if extra_data.startswith(("0x", "0X")) else extra_data
        try:
            data = bytes.fromhex(text)
        except ValueError:
            raise ConsortiumError(E.EXTRADATA_INVALID, "extraData is not hex") from None
    else:
        data = bytes(extra_data)
    try:
        item, end = _rlp_decode_item(data, 0)
        if end != len(data):
            raise ValueError("trailing bytes after the RLP list")
        if not isinstance(item, list) or len(item) != 5:
            raise ValueError("extraData must be an RLP list of 5 items")
        vanity, validators, vote, round_, seals = item
        if not isinstance(vanity, bytes) or len(vanity) != VANITY_LENGTH:
            raise ValueError("vanity must be 32 bytes")
        if not isinstance(validators, list) or any(not isinstance(v, bytes) or len(v) != 20 for v in validators):
            raise ValueError("validators must be a list of 20-byte addresses")
        if not isinstance(vote, list):
            raise ValueError("vote must be a list")
        decoded_vote = None
        if vote:
            if len(vote) != 2 or not isinstance(vote[0], bytes) or len(vote[0]) != 20:
                raise ValueError("vote must be [address, type]")
            if vote[1] not in (b"", VOTE_ADD):
                raise ValueError("vote type must be 0xff (add) or empty (drop)")
            decoded_vote = (to_checksum_address(vote[0]), vote[1] == VOTE_ADD)
        if not isinstance(round_, bytes) or round_[:1] == b"\x00" or len(round_) > 4:
            raise ValueError("round must be a canonical RLP scalar (QBFT), not fixed-width bytes")
        if not isinstance(seals, list) or any(not isinstance(s, bytes) for s in seals):
            raise ValueError("seals must be a list of byte strings")
    except ValueError as exc:
        raise ConsortiumError(E.EXTRADATA_INVALID, f"not a QBFT extraData: {exc}") from None
    return QbftExtraData(
        vanity=vanity,
        validators=tuple(to_checksum_address(v) for v in validators),
        vote=decoded_vote,
        round=int.from_bytes(round_, "big"),
        seals=tuple(seals),
    )


def _address_bytes(address: str) -> bytes:
    text = address[2:] if address.startswith(("0x", "0X")) else address
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 20:
        raise ConsortiumError(E.EXTRADATA_INVALID, f"{address!r} is not a 20-byte address")
    return raw
