"""The relayer's lease: one service process relays for a store.

The relayer's accounts take their nonces from what this process persisted, and the credits held for pending
redemptions live in its memory (`credit_holds.py`): a second process relaying over the same store would sign
with the same nonces and admit against holds it cannot see. So the service takes the lease at start and refuses
to start without it, naming what holds it.

The lease is a lock the operating system or the database drops when its holder dies, however it dies, so a
crashed service never keeps the next one out:
- SQLite: `flock` on `<database file>.relayer.lock` (the holder's pid written inside, for the message);
- PostgreSQL: a session advisory lock on a connection kept for the purpose. A database restart ends that
  session and its lock; `check()` (every few seconds) takes it again, and while another process holds it this
  one relays nothing (`held` is False: submissions answer 503 relayer_unavailable, readiness fails).
"""
from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from sqlalchemy import text

from exchange_api.errors import Unavailable
from exchange_api.store.db import sqlite_file

log = logging.getLogger("citypoints.relayer")

# pg_try_advisory_lock(int4, int4): pg_locks shows the pair as classid / objid
PG_LOCK = (0x43507473, 1)  # "CPts", the relayer


class LeaseHeld(RuntimeError):
    """Another live process holds the lease."""


class RelayerUnavailable(Unavailable):
    code = "relayer_unavailable"


class RelayerLease:
    def __init__(self, store):
        self.store = store
        self.held = False
        self._file = None
        self._conn = None
        self._postgres = not store.url.startswith("sqlite")
        self._kept = False  # acquired and not released: check() takes a lost PostgreSQL lease again

    def acquire(self) -> None:
        """Take the lease or raise LeaseHeld saying who has it."""
        if not self._postgres:
            database = sqlite_file(self.store.url)
            if database is not None:
                self._flock(database)
        else:
            holder = self._pg_lock()
            if holder is not None:
                raise LeaseHeld(f"another CityPoints service relays for this database (PostgreSQL backend pid "
                                f"{holder}, client {self._pg_client(holder)}): one service process relays a "
                                f"deployment's redemptions; stop it first")
        self.held = self._kept = True

    def check(self) -> bool:
        """PostgreSQL: is the lock's session still there? If not, take the lease again (unless another process
        holds it). Blocking; returns `held`."""
        if not (self._postgres and self._kept):
            return self.held
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT 1"))
                return self.held
            except Exception:  # noqa: BLE001 - the session (and its lock) is gone
                self._close_conn()
        try:
            holder = self._pg_lock()
        except Exception as exc:  # noqa: BLE001 - the database is still away: nobody else can take it either
            log.warning("relayer lease: database unavailable (%s); relaying pauses", type(exc).__name__)
            self.held = False
            return False
        was, self.held = self.held, holder is None
        if self.held:
            log.info("relayer lease taken again after the database's session ended")
        elif was:
            log.error("relayer lease lost: another service (PostgreSQL backend pid %s) relays for this database; "
                      "this one relays nothing until it stops", holder)
        return self.held

    def require(self) -> None:
        """Raise 503 relayer_unavailable unless this process holds the lease."""
        if not self.held:
            raise RelayerUnavailable("this service does not hold the relayer's lease (another process relays for "
                                     "its database, or the database is away); retry shortly")

    def release(self) -> None:
        self.held = self._kept = False
        if self._file is not None:
            self._file.close()  # closing the descriptor drops the flock
            self._file = None
        self._close_conn()

    # -- SQLite ------------------------------------------------------------------------------------------------

    def _flock(self, database: Path) -> None:
        lock = database.with_name(database.name + ".relayer.lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        f = open(lock, "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "?"
            f.close()
            raise LeaseHeld(f"another CityPoints service (pid {holder}) relays for {database} (lock {lock}): one "
                            f"service process relays a deployment's redemptions; stop it first") from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self._file = f

    # -- PostgreSQL --------------------------------------------------------------------------------------------

    def _pg_lock(self) -> int | None:
        """Try the advisory lock on a new kept connection: None when taken, else the holder's backend pid."""
        conn = self.store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            if conn.execute(text("SELECT pg_try_advisory_lock(:a, :b)"), {"a": PG_LOCK[0], "b": PG_LOCK[1]}).scalar():
                self._conn = conn
                return None
            holder = conn.execute(text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = :a AND objid = :b AND granted"),
                {"a": PG_LOCK[0], "b": PG_LOCK[1]}).scalar()
            conn.close()
            return holder or 0
        except BaseException:
            conn.close()
            raise

    def _pg_client(self, backend_pid: int) -> str:
        with self.store.engine.connect() as conn:
            row = conn.execute(text("SELECT client_addr, application_name FROM pg_stat_activity WHERE pid = :p"),
                               {"p": backend_pid}).first()
        return f"{row[0] or 'local socket'} {row[1] or ''}".strip() if row else "gone"

    def _close_conn(self) -> None:
        """Give the lock back and close its connection for good: the pool would keep its session, and the lock with
        it. The unlock is explicit: the server ends a closed client's session only when it notices, and another
        process checking meanwhile would still find the lock held."""
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"), {"a": PG_LOCK[0], "b": PG_LOCK[1]})
            except Exception:  # noqa: BLE001 - a dead session holds no lock any more
                pass
            try:
                self._conn.invalidate()
                self._conn.close()
            except Exception:  # noqa: BLE001 - a dead session's connection
                pass
            self._conn = None
