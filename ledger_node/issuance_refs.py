"""Issuance refs and the ledger's dedup window, in Python (contracts/README.md, "Issuance dedup").

A ref is 32 bytes: the issuer's sequence number for the item (4 bytes lane, 4 bytes counter), then 24 bytes of the
issuer's own event id (its salted hash, cut). PointsLedger dedups per (scheme, issuer, sequence) in a window: per
lane a ring of RING words of SEQ_BITS numbers, each word tagged with its index within the lane. `SequenceWindow`
mirrors it exactly (the auditor replays it; the contracts' state machine holds the ledger to it).
"""
from __future__ import annotations

SEQ_BITS = 224  # sequence numbers per word (the word's top 32 bits are its tag)
RING = 256  # words per lane
WINDOW = SEQ_BITS * RING  # numbers of a lane the ledger remembers
LANES = 2**32
COUNTERS = 2**32
EVENT_ID_BYTES = 24


def sequenced_ref(lane: int, counter: int, event_hash: bytes) -> bytes:
    """The on-chain ref of the item numbered (`lane`, `counter`) whose event id hashes to `event_hash` (32 bytes;
    its last 24 are kept)."""
    if not (0 <= lane < LANES and 0 <= counter < COUNTERS):
        raise ValueError(f"a sequence number is a lane and a counter below 2**32, got ({lane}, {counter})")
    return lane.to_bytes(4, "big") + counter.to_bytes(4, "big") + event_hash[-EVENT_ID_BYTES:]


def sequence_of(ref: bytes) -> tuple[int, int]:
    """(lane, counter) of a ref."""
    return int.from_bytes(ref[:4], "big"), int.from_bytes(ref[4:8], "big")


def event_id_of(ref: bytes) -> bytes:
    """The issuer's event id part of a ref (24 bytes)."""
    return ref[8:]


def position(ref: bytes) -> tuple[int, int, int]:
    """(ring slot, tag, bit) of a ref's sequence number, as PointsLedger._position."""
    lane, counter = sequence_of(ref)
    tag, bit = divmod(counter, SEQ_BITS)
    return (lane << 8) | (tag % RING), tag, bit


class SequenceWindow:
    """One (scheme, issuer)'s dedup words, as PointsLedger keeps them."""

    def __init__(self, words: dict[int, int] | None = None):
        self.words: dict[int, int] = words if words is not None else {}

    def state(self, ref: bytes) -> str:
        """"unused", "used" or "behind" (behind the lane's window), as PointsLedger.refState."""
        slot, tag, bit = position(ref)
        word = self.words.get(slot, 0)
        word_tag = word >> SEQ_BITS
        if word_tag > tag:
            return "behind"
        return "used" if word_tag == tag and word >> bit & 1 else "unused"

    def take(self, ref: bytes) -> bool:
        """Take the ref's number: True if fresh (then it is issued), False if used before or behind the window."""
        slot, tag, bit = position(ref)
        word = self.words.get(slot, 0)
        word_tag = word >> SEQ_BITS
        if word_tag > tag:
            return False
        if word_tag < tag:
            word = tag << SEQ_BITS
        if word >> bit & 1:
            return False
        self.words[slot] = word | (1 << bit)
        return True
