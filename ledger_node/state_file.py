"""The embedded chain's saved state: one file, written atomically, checked by a digest when read.

Format: first line `citypoints-state v1 <sha256 of blob> <block number>`, second line the blob
that anvil_dumpState returned. A torn or truncated file fails the digest and is reported.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

MAGIC = "citypoints-state v1"


class CorruptState(Exception):
    pass


def write(path: Path, blob: str, block_number: int) -> None:
    digest = hashlib.sha256(blob.encode()).hexdigest()
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        f.write(f"{MAGIC} {digest} {block_number}\n{blob}")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read(path: Path) -> tuple[str, int]:
    """Return (blob, block number) or raise CorruptState naming what is wrong."""
    text = path.read_text()
    header, _, blob = text.partition("\n")
    parts = header.split(" ")
    if len(parts) != 4 or " ".join(parts[:2]) != MAGIC:
        raise CorruptState(f"{path}: not a CityPoints state file (bad header)")
    if hashlib.sha256(blob.encode()).hexdigest() != parts[2]:
        raise CorruptState(f"{path}: digest mismatch, the file is truncated or damaged")
    return blob, int(parts[3])
