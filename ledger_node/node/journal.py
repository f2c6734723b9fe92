"""The embedded node's write-ahead journal: every accepted transaction, every block's timestamp, every
operator change, in order, fsynced before anyone is told it happened.

A journal is a directory of numbered segments (`000001.wal`, ...). A snapshot of the engine's state
closes a segment; restart loads the newest good snapshot and replays the segments after it.

Record layout (little endian): `u32 length | u32 crc32(payload) | payload`, payload one JSON object:

- `{"k": "tx", "raw": "0x.."}`                      a raw transaction the engine accepted into its pool
- `{"k": "block", "n": N, "ts": T, "hash": H, "txs": [h, ..]}`
                                                    block N as mined: its timestamp, hash and transactions in
                                                    order (each one's `tx` or `carry` record comes before it)
- `{"k": "admin", "method": M, "params": [..]}`     an operator-channel call that changes state
- `{"k": "carry", "raw": "0x.."}`                   a transaction still pending when the segment opened

Group commit: `append` only buffers; a single writer thread writes and fsyncs everything buffered at
once and then wakes every waiter, so N concurrent senders share one fsync.

A damaged tail (a record cut short or failing its CRC with nothing valid after it) is the signature
of a write that was in progress when the machine or process died; nobody was acknowledged for it, so
it is cut off and reported. Damage followed by valid records is not a torn write: it is refused, with the
file and byte offset; `repair` (`citypoints node repair-journal`) is the way on: it keeps every record before
the damage, moves the rest aside (never deletes it) and lists the acknowledged transactions that are lost.
"""
from __future__ import annotations

import json
import os
import struct
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from eth_utils import keccak

from ledger_node import fast_json
from ledger_node.errors import LedgerNodeError
from ledger_node.paths import fsync_dir, write_synced

HEADER = struct.Struct("<II")
SUFFIX = ".wal"


class JournalCorrupt(LedgerNodeError):
    """The journal is damaged in a way that cannot be repaired without losing acknowledged data."""

    def __init__(self, message: str, path: Path | None = None, offset: int | None = None):
        super().__init__(message)
        self.path, self.offset = path, offset


WAY_ON = ("the ways on: `citypoints node restore BACKUP --replay-journal` (the backup's copy of this part, then "
          "the journal after it: loses nothing the backup holds), or `citypoints node repair-journal` (keeps every "
          "record before the damage, moves the rest aside and lists the acknowledged transactions that loses)")


@dataclass
class ScanResult:
    records: list[dict]
    good_bytes: int
    torn_bytes: int = 0
    problem: str = ""


def scan(path: Path) -> ScanResult:
    """Read every record of one segment. A damaged tail is reported (torn_bytes), damage in the middle raises."""
    return scan_bytes(path.read_bytes(), path)


def scan_bytes(data: bytes, path: Path, base: int = 0) -> ScanResult:
    """`scan` of a segment's bytes from byte `base` of the file `path` (offsets in results are the file's)."""
    records: list[dict] = []
    pos = 0
    while pos < len(data):
        problem = ""
        if len(data) - pos < HEADER.size:
            problem = "record header cut short"
        else:
            length, crc = HEADER.unpack_from(data, pos)
            end = pos + HEADER.size + length
            if end > len(data):
                problem = f"record of {length} bytes cut short at {len(data) - pos - HEADER.size}"
            else:
                payload = data[pos + HEADER.size:end]
                if zlib.crc32(payload) != crc:
                    problem = "record fails its CRC"
                else:
                    try:
                        records.append(json.loads(payload))
                    except ValueError:
                        problem = "record is not JSON"
        if problem:
            if _any_valid_record_after(data, pos + 1):
                raise JournalCorrupt(f"journal file {path}: {problem} at byte {base + pos}, and valid records "
                                     f"follow it; the journal is damaged in the middle; {WAY_ON}", path, base + pos)
            return ScanResult(records, base + pos, len(data) - pos, f"{path}: {problem} at byte {base + pos}")
        pos = end
    return ScanResult(records, base + pos)


def _any_valid_record_after(data: bytes, start: int) -> bool:
    """Is there a well-formed record anywhere after `start`? (A torn tail has none.)

    Every payload starts with `{"k":`, so candidates are found by searching for that and checking the
    header in front of it."""
    pos = start
    while True:
        hit = data.find(b'{"k":', pos + HEADER.size)
        if hit < 0:
            return False
        head = hit - HEADER.size
        length, crc = HEADER.unpack_from(data, head)
        if head >= start and hit + length <= len(data) and zlib.crc32(data[hit:hit + length]) == crc:
            return True
        pos = hit - HEADER.size + 1


def encode(record: dict) -> bytes:
    payload = fast_json.dumps(record)
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def transaction_hash(raw: str) -> str:
    """The hash the engine will answer with (keccak of the signed envelope); ValueError if not hex.
    Here, beside the records that hold `raw`, so that the gateway, recovery and backup all take it from the
    journal and none of them from another."""
    return "0x" + keccak(bytes.fromhex(raw[2:] if raw.startswith("0x") else raw)).hex()


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"*{SUFFIX}"))


def segment_number(path: Path) -> int:
    return int(path.stem)


def segment_path(directory: Path, number: int) -> Path:
    return directory / f"{number:06d}{SUFFIX}"


@dataclass
class Repair:
    """What opening the journal found and fixed; the supervisor logs it."""
    messages: list[str] = field(default_factory=list)


def repair_tail(directory: Path) -> Repair:
    """Cut a torn tail off the newest segment (only the newest may be torn); report it."""
    rep = Repair()
    segs = segments(directory)
    for seg in segs[:-1]:
        res = scan(seg)
        if res.torn_bytes:
            raise JournalCorrupt(f"journal file {res.problem}, in a closed segment (a later segment exists); "
                                 f"the journal is damaged in the middle; {WAY_ON}", seg, res.good_bytes)
    if segs:
        res = scan(segs[-1])
        if res.torn_bytes:
            with open(segs[-1], "r+b") as f:
                f.truncate(res.good_bytes)
                f.flush()
                os.fsync(f.fileno())
            rep.messages.append(f"journal: cut a torn tail of {res.torn_bytes} bytes ({res.problem}); "
                                f"it was never acknowledged")
    return rep


@dataclass
class Damage:
    path: Path
    offset: int
    problem: str


def first_damage(directory: Path, first_segment: int = 1) -> Damage | None:
    """The first place, in segments `first_segment` on, that stops a start: damage followed by valid records, or a
    torn tail in a segment that is not the newest. None when the journal is whole (a torn newest tail is not
    damage: `repair_tail` cuts it)."""
    segs = [s for s in segments(directory) if segment_number(s) >= first_segment]
    for i, seg in enumerate(segs):
        try:
            res = scan(seg)
        except JournalCorrupt as exc:
            return Damage(seg, exc.offset or 0, str(exc))
        if res.torn_bytes and i < len(segs) - 1:
            return Damage(seg, res.good_bytes, res.problem)
    return None


def salvage(data: bytes, start: int) -> list[dict]:
    """Every well-formed record from `start` on, skipping damaged bytes (to count what a repair moves aside)."""
    records: list[dict] = []
    pos = start
    while pos < len(data):
        ok = False
        if len(data) - pos >= HEADER.size:
            length, crc = HEADER.unpack_from(data, pos)
            end = pos + HEADER.size + length
            if end <= len(data) and zlib.crc32(data[pos + HEADER.size:end]) == crc:
                try:
                    records.append(json.loads(data[pos + HEADER.size:end]))
                    ok = True
                except ValueError:
                    pass
        if ok:
            pos = end
            continue
        hit = data.find(b'{"k":', pos + HEADER.size + 1)   # the next candidate record after this position
        if hit < 0:
            break
        pos = hit - HEADER.size
    return records


@dataclass
class RepairResult:
    damage: Damage
    kept_records: int
    moved_records: int
    aside: Path
    lost: dict[str, str]          # acknowledged transaction hash -> raw, in no record kept


def repair(directory: Path, first_segment: int, aside: Path) -> RepairResult | None:
    """Keep every record before the first damage; move the damaged segment's rest and every later segment to
    `aside` (a new directory: the damaged segment whole, as `<name>.original`, and the later ones as they are);
    list the journaled (acknowledged) transactions no kept record holds, in `aside/lost-transactions.json`.
    None when there is no damage."""
    damage = first_damage(directory, first_segment)
    if damage is None:
        return None
    segs = [s for s in segments(directory) if segment_number(s) >= first_segment]
    at = segs.index(damage.path)
    kept: list[dict] = []
    for seg in segs[:at]:
        kept += scan(seg).records
    data = damage.path.read_bytes()
    kept += scan_prefix(data[:damage.offset])
    moved = salvage(data, damage.offset)
    for seg in segs[at + 1:]:
        moved += salvage(seg.read_bytes(), 0)
    held = {transaction_hash(r["raw"]) for r in kept if r.get("k") in ("tx", "carry")}
    lost = {}
    for r in moved:
        if r.get("k") in ("tx", "carry"):
            h = transaction_hash(r["raw"])
            if h not in held:
                lost[h] = r["raw"]
    aside.mkdir(parents=True)
    with open(aside / "lost-transactions.json", "w") as f:
        json.dump({"damagedFile": str(damage.path), "offset": damage.offset, "problem": damage.problem,
                   "keptRecords": len(kept), "movedRecords": len(moved),
                   "note": "journaled (acknowledged) transactions that no kept record holds: the repaired chain "
                           "does not have them; each raw transaction is signed and may be sent again",
                   "lost": [{"hash": h, "raw": raw} for h, raw in lost.items()]}, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    write_synced(aside / (damage.path.name + ".original"), data)
    for seg in segs[at + 1:]:
        seg.rename(aside / seg.name)
    fsync_dir(aside)
    with open(damage.path, "r+b") as f:
        f.truncate(damage.offset)
        f.flush()
        os.fsync(f.fileno())
    fsync_dir(directory)
    return RepairResult(damage, len(kept), len(moved), aside, lost)


def scan_prefix(data: bytes) -> list[dict]:
    """The records of bytes known to be whole (a segment's part before its first damage)."""
    records, pos = [], 0
    while pos + HEADER.size <= len(data):
        length, _ = HEADER.unpack_from(data, pos)
        records.append(json.loads(data[pos + HEADER.size:pos + HEADER.size + length]))
        pos += HEADER.size + length
    return records


def read_from(directory: Path, first_segment: int) -> Iterator[dict]:
    for seg in segments(directory):
        if segment_number(seg) >= first_segment:
            yield from scan(seg).records


class Journal:
    """Appends records to the current segment with group commit. Thread-safe."""

    def __init__(self, directory: Path, segment: int):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.segment = segment
        self._file = open(segment_path(directory, segment), "ab")
        fsync_dir(directory)
        self._lock = threading.Condition()
        self._buffer: list[bytes] = []
        self._appended = 0   # sequence number of the last appended record
        self._durable = 0    # sequence number of the last fsynced record
        self._error: BaseException | None = None
        self._closed = False
        self.on_durable = None  # called from the writer thread with the durable sequence number
        self.segment_bytes = 0  # bytes appended to the current segment (snapshot policy)
        self._writer = threading.Thread(target=self._write_loop, name="journal-writer", daemon=True)
        self._writer.start()

    def append(self, record: dict) -> int:
        """Buffer one record; returns its sequence number for `wait`. Call under the caller's ordering lock."""
        data = encode(record)
        with self._lock:
            if self._error:
                raise self._error
            self.segment_bytes += len(data)
            self._buffer.append(data)
            self._appended += 1
            self._lock.notify_all()
            return self._appended

    def wait(self, seq: int, timeout: float | None = None) -> None:
        """Block until record `seq` (and all before it) is on disk."""
        with self._lock:
            while self._durable < seq and not self._error:
                if not self._lock.wait(timeout):
                    raise TimeoutError("journal fsync did not complete")
            if self._error:
                raise self._error

    def durable_seq(self) -> int:
        with self._lock:
            return self._durable

    @property
    def error(self) -> BaseException | None:
        """Why the journal stopped writing (the node must stop), or None."""
        return self._error

    def rotate(self, first_records: list[dict]) -> int:
        """Close the current segment (after flushing it) and start the next with `first_records`."""
        self.flush()
        with self._lock:
            self._file.close()
            self.segment += 1
            self.segment_bytes = 0
            self._file = open(segment_path(self.directory, self.segment), "ab")
            for record in first_records:
                self._buffer.append(encode(record))
                self._appended += 1
            self._lock.notify_all()
            seq = self._appended
        fsync_dir(self.directory)
        self.wait(seq)
        return self.segment

    def flush(self) -> None:
        with self._lock:
            seq = self._appended
        self.wait(seq)

    def close(self) -> None:
        self.flush()
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        self._writer.join(5)
        self._file.close()

    def _write_loop(self) -> None:
        while True:
            with self._lock:
                while not self._buffer and not self._closed:
                    self._lock.wait()
                if self._closed and not self._buffer:
                    return
                batch, self._buffer = self._buffer, []
                upto = self._appended
                f = self._file
            try:
                f.write(b"".join(batch))
                f.flush()
                os.fdatasync(f.fileno())
            except BaseException as exc:  # a journal that cannot write must stop the node: fail-stop
                with self._lock:
                    self._error = exc
                    self._lock.notify_all()
                return
            with self._lock:
                self._durable = upto
                self._lock.notify_all()
                callback = self.on_durable
            if callback:
                callback(upto)
