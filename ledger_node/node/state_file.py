"""The embedded chain's saved state: one file, written atomically, checked by a digest when read.

Format: first line `citypoints-state v1 <sha256 of blob> <block number> [<journal segment> <kind>]`,
second line the blob. A torn or truncated file fails the digest and is reported.

Two kinds of blob: `anvil` is what anvil_dumpState returned (the engine's state with every block);
`journal` (engines that cannot dump, i.e. Hardhat/EDR) is the compacted journal up to that point,
base64 of gzip of its records. Either way, restart replays the journal segments from `<journal segment>` on.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ledger_node.errors import LedgerNodeError
from ledger_node.paths import replace_atomically

MAGIC = "citypoints-state v1"


class CorruptState(LedgerNodeError):
    pass


@dataclass(frozen=True)
class StateMeta:
    block_number: int
    segment: int = 1          # first journal segment to replay after this state
    kind: str = "anvil"


def write(path: Path, blob: str | bytes | memoryview | list, block_number: int, segment: int | None = None,
          kind: str = "anvil") -> None:
    """`blob` as text, as its ASCII bytes, or as a list of pieces of them (a state dump as it came off the engine's
    socket: never joined, so no call holds the GIL for the whole of it)."""
    pieces = [blob.encode()] if isinstance(blob, str) else blob if isinstance(blob, list) else [blob]
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(piece)
    extra = f" {segment} {kind}" if segment is not None else ""

    def fill(f):
        f.write(f"{MAGIC} {digest.hexdigest()} {block_number}{extra}\n")
        f.flush()
        for piece in pieces:
            f.buffer.write(piece)
    replace_atomically(path, fill)


def read(path: Path) -> tuple[str, int]:
    """Return (blob, block number) or raise CorruptState naming what is wrong."""
    blob, meta = read_meta(path)
    return blob, meta.block_number


def read_meta(path: Path) -> tuple[str, StateMeta]:
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise CorruptState(f"{path}: digest mismatch, the file is damaged (not text)") from None
    header, _, blob = text.partition("\n")
    parts = header.split(" ")
    if len(parts) not in (4, 6) or " ".join(parts[:2]) != MAGIC:
        raise CorruptState(f"{path}: not a CityPoints state file (bad header)")
    if hashlib.sha256(blob.encode()).hexdigest() != parts[2]:
        raise CorruptState(f"{path}: digest mismatch, the file is truncated or damaged")
    if len(parts) == 6:
        return blob, StateMeta(int(parts[3]), int(parts[4]), parts[5])
    return blob, StateMeta(int(parts[3]))


def pack_records(records: list[dict]) -> str:
    return base64.b64encode(gzip.compress(json.dumps(records, separators=(",", ":")).encode(), 3)).decode()


def unpack_records(blob: str) -> list[dict]:
    return json.loads(gzip.decompress(base64.b64decode(blob)))
