"""The issuer's sequence book: which sequence number each of its event ids was given (contracts/README.md,
"Issuance dedup").

PointsLedger remembers an issuer's sequence numbers in a window, not every ref it ever saw, so the map from the
issuer system's event ids to sequence numbers lives here, durable before a batch carrying a new number is sent:

- an event id seen before gets its number again, so a retry or a rerun is skipped by the ledger, not issued twice;
  unless that number was never seen issued and has fallen back more than REALLOCATE_AFTER behind this book's
  counter: the ledger would skip it as behind its window without issuing it, so it gets a new number (the old one
  can never be issued any more: behind the window is refused forever);
- the book learns from the chain (`import_issued`, fed from the scheme's PointsIssued and PointsRevoked events)
  what was issued, under any lane: a lost book is rebuilt from the chain, a stale copy catches up, and a second
  instance of the issuer sharing neither file nor database learns the first one's ids before its next call;
- the counter never goes back, and never below a number of this lane the chain has shown.

The ledger dedups a scheme's numbers whichever of the issuer organisation's accounts sends them, so instances of
one issuer (a key each, or threads of one) share one book to issue each event once: threads of one process share it
(a lock), processes on one machine share the file (SQLite's locking). Instances with books of their own number in
lanes of their own and learn each other's events from the chain before each call; only two of them numbering the
same event before either's batch is mined can issue it twice, which the auditor reports (`external-ref-reissued`).
SQLite, WAL, synchronous FULL; the file is 0600 in a 0700 directory.
"""
from __future__ import annotations

import os
import secrets
import sqlite3
import threading
from pathlib import Path

from ledger_node.issuance_refs import EVENT_ID_BYTES, WINDOW, sequence_of, sequenced_ref

REALLOCATE_AFTER = WINDOW // 2  # far more than any stream keeps in flight (max_in_flight x 1,000 items)
_CHUNK = 500  # ids an IN (...) query

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ids (
    event_id BLOB PRIMARY KEY,   -- the last 24 bytes of the salted hash of the issuer's event id
    ref BLOB NOT NULL,           -- the on-chain ref: sequence number (8 bytes) + event_id
    block INTEGER                -- where the chain showed it issued (or revoked); NULL: not seen issued yet
) WITHOUT ROWID;
"""


class SequenceBook:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)  # created 0600 before SQLite opens it
        os.close(fd)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        with self._transaction():
            if self._meta("lane") is None:
                self._set_meta("lane", str(secrets.randbelow(2**32)))  # a lane of its own: no other book's numbers
                self._set_meta("next", "0")

    # -- what the book holds -----------------------------------------------------------------------------------

    @property
    def lane(self) -> int:
        return int(self._meta("lane"))

    @property
    def next_counter(self) -> int:
        return int(self._meta("next"))

    @property
    def synced(self) -> tuple[int, str] | None:
        """(block, its hash) the book has read the chain's events up to, or None."""
        block = self._meta("synced_block")
        return None if block is None else (int(block), self._meta("synced_hash"))

    def ref_of(self, event_hash: bytes) -> tuple[bytes, int | None] | None:
        """(on-chain ref, block where seen issued or None) of an event id's salted hash, or None if never given."""
        row = self._db.execute("SELECT ref, block FROM ids WHERE event_id = ?", (event_hash[-EVENT_ID_BYTES:],)).fetchone()
        return None if row is None else (bytes(row[0]), row[1])

    # -- giving numbers ----------------------------------------------------------------------------------------

    def assign(self, event_hashes: list[bytes]) -> list[bytes]:
        """The on-chain ref of each event id (salted hashes, 32 bytes), new ones numbered; durable on return."""
        ids = [h[-EVENT_ID_BYTES:] for h in event_hashes]
        with self._lock, self._transaction():
            lane, counter = int(self._meta("lane")), int(self._meta("next"))
            known: dict[bytes, tuple[bytes, int | None]] = {}
            unique = list(dict.fromkeys(ids))
            for k in range(0, len(unique), _CHUNK):
                chunk = unique[k:k + _CHUNK]
                rows = self._db.execute(f"SELECT event_id, ref, block FROM ids WHERE event_id IN "
                                        f"({','.join('?' * len(chunk))})", chunk)
                known.update((bytes(e), (bytes(r), b)) for e, r, b in rows)
            given: dict[bytes, bytes] = {}
            fresh: list[tuple[bytes, bytes]] = []
            for event_id, event_hash in zip(ids, event_hashes):
                if event_id in given:
                    continue
                row = known.get(event_id)
                if row is not None and (row[1] is not None or self._current(row[0], lane, counter)):
                    given[event_id] = row[0]
                    continue
                ref = sequenced_ref(lane, counter, event_hash)
                counter += 1
                given[event_id] = ref
                fresh.append((event_id, ref))
            if fresh:
                self._db.executemany("INSERT INTO ids (event_id, ref, block) VALUES (?, ?, NULL) ON CONFLICT(event_id)"
                                     " DO UPDATE SET ref = excluded.ref", fresh)
                self._set_meta("next", str(counter))
        return [given[e] for e in ids]

    @staticmethod
    def _current(ref: bytes, lane: int, counter: int) -> bool:
        """A number given but not seen issued that the ledger still takes: this lane's, not too far behind."""
        ref_lane, ref_counter = sequence_of(ref)
        return ref_lane == lane and counter - ref_counter <= REALLOCATE_AFTER

    # -- learning from the chain -------------------------------------------------------------------------------

    def import_issued(self, refs: list[bytes], block: int) -> None:
        """Refs the chain shows issued (or revoked) by this issuer in `block`: their ids are known from now on
        under the number they were issued with (the first one, if an id was ever issued twice)."""
        if not refs:
            return
        with self._lock, self._transaction():
            self._db.executemany(
                "INSERT INTO ids (event_id, ref, block) VALUES (?, ?, ?) ON CONFLICT(event_id) DO UPDATE SET "
                "ref = excluded.ref, block = excluded.block WHERE ids.block IS NULL",
                [(r[8:], r, block) for r in refs])
            lane = int(self._meta("lane"))
            mine = [sequence_of(r)[1] for r in refs if sequence_of(r)[0] == lane]
            if mine and max(mine) >= int(self._meta("next")):  # a stale copy of the book: never reuse a number
                self._set_meta("next", str(max(mine) + 1))

    def set_synced(self, block: int, block_hash: str) -> None:
        with self._lock, self._transaction():
            self._set_meta("synced_block", str(block))
            self._set_meta("synced_hash", block_hash)

    def forget_chain(self) -> None:
        """The chain the book read is not this one (reset, or reorganised below the synced block): forget what it
        showed and read it again. Lane and counter stay: numbers are never reused."""
        with self._lock, self._transaction():
            self._db.execute("UPDATE ids SET block = NULL")
            self._db.execute("DELETE FROM meta WHERE key IN ('synced_block', 'synced_hash')")

    def close(self) -> None:
        self._db.close()

    # -- internals ---------------------------------------------------------------------------------------------

    def _transaction(self):
        return _Transaction(self._db)

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = "
                         "excluded.value", (key, value))


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on an exception): two processes sharing the file number one at a time."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self):
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *_):
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
