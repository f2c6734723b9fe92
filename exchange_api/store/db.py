"""Engine, sessions and migrations. Database work runs in threads, so the event loop never waits on the
database; an outage surfaces as DatabaseUnavailable (HTTP 503) and the pool's pre-ping reconnects by itself
once the database is back.

- Reads: `Store.run(fn)` in a pool of worker threads, side by side. `Store.call(fn)` is the synchronous form
  for command-line tools and tests (a writer unless told otherwise).
- Writes: `Store.write(fn)` goes to one writer thread that runs everything queued meanwhile in one database
  transaction (group commit), each function inside its own SAVEPOINT: a function that raises (a unique key
  taken, a NotFound) rolls back only its own changes and gets its own exception. Under load a commit serves
  dozens of requests instead of each paying its own, and SQLite never sees two writers fight for its lock.
  `write(fn, isolated=False)` skips the savepoint for a function that is not expected to fail (it then costs
  one statement less each way); should it fail anyway, the group is rolled back and run again with every
  function in its own savepoint. So a write function must do nothing but database work: it may run twice.
  `write(fn, background=True)` (the indexer, confirmations) runs alone, taking turns with the groups of
  foreground writes: a request's write waits behind at most one background transaction, never behind a block's
  worth of them.
- Durability: a request's write is on disk before its caller is answered (SQLite `synchronous=FULL`, PostgreSQL's
  default). A background write is committed without waiting for the disk (SQLite `synchronous=NORMAL` in WAL
  mode, PostgreSQL `synchronous_commit=off`): atomic and consistent as any, durable with the next request's commit
  or checkpoint, and a crash of the process loses nothing (only the machine losing power can lose the last ones).
  What a background write holds is written again when lost: the indexer's rows and cursor (it resumes from the
  cursor), a mined transaction's settlement (reconcile() finds the transaction still `sent` and settles it from
  its receipt), expired voucher reservations (the next sweep), a webhook delivery's record (the event is
  delivered again: webhooks are at least once, each with its event id). A block's index write waited 20 ms for
  the disk of its 40-50 ms, and every request's write waits behind it.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import os
import queue
import threading
import time
from collections import deque
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import anyio
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from exchange_api import metrics
from exchange_api.errors import DatabaseUnavailable

log = logging.getLogger("citypoints.store")
T = TypeVar("T")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for an in-memory database or another dialect."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1]
    return Path(path) if path and path != ":memory:" else None


def private_file(path: Path) -> None:
    """Create `path` (if missing) readable by its owner only (0600), its folder too (0700) when this creates it.
    The database holds encrypted personal data, key hashes and webhook secrets; SQLite creates its -wal and -shm
    files with the database file's mode."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
        os.chmod(path.parent, 0o700)  # mkdir's mode is masked by the umask
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)  # a file created before (by an earlier version): tightened
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists() and side.stat().st_mode & 0o077:
            os.chmod(side, 0o600)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = sqlite_file(url)
        if path is not None:
            private_file(path)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=20,
                               max_overflow=20)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # WAL: readers never wait for the writer
            dbapi_conn.isolation_level = None  # pysqlite's own BEGIN breaks SAVEPOINT; we begin ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")  # a commit is on disk before anyone is told (fdatasync ~0.2 ms here)
            # no commit copies the log into the database file (a checkpoint: 100-250 ms under load, stalling
            # every write behind it); Store's checkpointer thread does it beside the writer
            cur.execute("PRAGMA wal_autocheckpoint=0")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):  # the writer takes the lock up front: a deferred upgrade can fail without waiting
            options = conn.get_execution_options()
            if options.get("writer"):  # the safety level of this connection's commits (not settable inside one)
                conn.exec_driver_sql("PRAGMA synchronous=NORMAL" if options.get("background")
                                     else "PRAGMA synchronous=FULL")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("writer") else "BEGIN")
        return engine
    engine = create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=20, pool_timeout=5,
                           connect_args={"connect_timeout": 3})

    @event.listens_for(engine, "begin")
    def _begin_pg(conn):
        if conn.get_execution_options().get("background"):
            conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Store:
    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.writer_sessions = sessionmaker(self.engine.execution_options(writer=True), expire_on_commit=False)
        # background writes (the indexer's, confirmations'): committed without waiting for the disk (see "Durability")
        self.background_sessions = sessionmaker(self.engine.execution_options(writer=True, background=True),
                                                expire_on_commit=False)
        self.limiter = anyio.CapacityLimiter(16)
        self._writes: queue.SimpleQueue = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()
        self._checkpointer: threading.Thread | None = None
        self._stopping = threading.Event()
        self.groups = 0  # write groups committed (a commit each); with `writes`, how well grouping works
        self.writes = 0

    @contextmanager
    def session(self, *, writer: bool = True) -> Iterator[Session]:
        """A session in one transaction, committed at the end. A writer takes SQLite's write lock at BEGIN
        (a read transaction that later writes can fail at once when another writer went first)."""
        with (self.writer_sessions if writer else self.sessions)() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    def call(self, fn: Callable[[Session], T], *, writer: bool = True) -> T:
        """Run fn(session) in one transaction (synchronously); database outages become DatabaseUnavailable."""
        try:
            with self.session(writer=writer) as s:
                return fn(s)
        except DBAPIError as exc:
            outage = _outage(exc)
            if outage is not None:
                raise outage from exc
            raise

    async def run(self, fn: Callable[[Session], T]) -> T:
        """Read: fn(session) in a worker thread, beside other reads."""
        return await anyio.to_thread.run_sync(functools.partial(self.call, fn, writer=False), limiter=self.limiter)

    async def write(self, fn: Callable[[Session], T], *, isolated: bool = True, background: bool | str = False) -> T:
        """Run fn(session) in the writer thread, grouped with the other writes queued meanwhile (one commit),
        inside its own savepoint unless `isolated` is False; its result, or its own exception. A `background`
        write (the indexer's, confirmations') runs in a transaction of its own, one at a time, after the writes
        requests wait for: a request never waits behind more than one of them. `background` may name the writer
        ("indexer", "settlement"): the label of its time in citypoints_store_write_seconds."""
        self._start_writer()
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._writes.put((fn, isolated, loop, future, background))
        return await future

    def _start_writer(self) -> None:
        if self._writer is None or not self._writer.is_alive():
            with self._writer_lock:
                if self._writer is None or not self._writer.is_alive():
                    self._writer = threading.Thread(target=self._write_loop, name="store-writer", daemon=True)
                    self._writer.start()
                    if self.url.startswith("sqlite") and self._checkpointer is None:
                        self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="store-checkpoint",
                                                              daemon=True)
                        self._checkpointer.start()

    def _checkpoint_loop(self, period_s: float = 1.0) -> None:
        """SQLite: copy the write-ahead log into the database file every second, beside the writer (a passive
        checkpoint never blocks it; with automatic checkpoints, the commit that crossed the log's size limit
        did this work itself while every other write waited)."""
        while not self._stopping.wait(period_s):
            try:
                with self.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except Exception as exc:  # noqa: BLE001 - an outage: the next round tries again
                log.warning("store: checkpoint failed: %s", type(exc).__name__)

    def _write_loop(self) -> None:
        foreground: deque = deque()
        background: deque = deque()
        background_turn = False  # after a foreground group, one background write: neither side starves
        stopping = False
        while True:
            try:  # wait for work only when none is left
                item = self._writes.get(block=not (foreground or background or stopping))
                while True:
                    if item is None:
                        stopping = True
                    else:
                        (background if item[4] else foreground).append(item)
                    item = self._writes.get_nowait()
            except queue.Empty:
                pass
            if background and (background_turn or not foreground):
                group, background_turn = [background.popleft()], False
            elif foreground:
                group = [foreground.popleft() for _ in range(min(len(foreground), 1000))]
                background_turn = True
            elif stopping:
                return
            else:
                continue
            fns = [(fn, isolated) for fn, isolated, _, _, _ in group]
            unhurried = group[0][4]  # a background write: its commit does not wait for the disk
            started = time.perf_counter()
            outcomes = self._commit_group(fns, unhurried)
            if outcomes is None:  # a function run without a savepoint failed: again, each in its own
                outcomes = self._commit_group([(fn, True) for fn, _ in fns], unhurried)
            metrics.STORE_WRITE.labels(unhurried if isinstance(unhurried, str) else "background" if unhurried
                                       else "requests").observe(time.perf_counter() - started)
            for (_, _, loop, future, _), outcome in zip(group, outcomes):
                loop.call_soon_threadsafe(_settle, future, outcome)

    def _commit_group(self, fns: list[tuple[Callable[[Session], object], bool]],
                      background: bool = False) -> list[tuple[bool, object]] | None:
        """Outcomes (ok, result or exception) in order; None when a function without a savepoint failed (the
        transaction was rolled back)."""
        outcomes: list[tuple[bool, object]] = []
        try:
            with (self.background_sessions if background else self.writer_sessions)() as s:
                for fn, isolated in fns:
                    if not isolated:
                        try:
                            outcomes.append((True, fn(s)))
                            continue
                        except Exception:  # noqa: BLE001 - rolled back below; the isolated rerun reports it
                            s.rollback()
                            return None
                    try:
                        with s.begin_nested():  # leaving it flushes: a taken unique key raises here
                            result = fn(s)
                        outcomes.append((True, result))
                    except DBAPIError as exc:
                        if _outage(exc):
                            raise
                        outcomes.append((False, exc))
                    except Exception as exc:  # noqa: BLE001 - the caller's own exception, handed back to it
                        outcomes.append((False, exc))
                s.commit()
        except Exception as exc:  # noqa: BLE001 - the group's commit failed: nothing of it was written
            failure = _outage(exc) if isinstance(exc, DBAPIError) else None
            return [(False, failure or exc)] * len(fns)
        self.groups += 1
        self.writes += len(fns)
        return outcomes

    def migrate(self) -> None:
        migrate(self.engine)

    def dispose(self) -> None:
        self._stopping.set()
        if self._writer is not None and self._writer.is_alive():
            self._writes.put(None)
            self._writer.join(10)
        self.engine.dispose()


def _outage(exc: DBAPIError) -> DatabaseUnavailable | None:
    """The DatabaseUnavailable an outage becomes, or None for an error of the statement itself."""
    if isinstance(exc, OperationalError):
        return DatabaseUnavailable("the database is unavailable; retry shortly")
    if exc.connection_invalidated:
        return DatabaseUnavailable("the database connection was lost; retry shortly")
    return None


def _settle(future: asyncio.Future, outcome: tuple[bool, object]) -> None:
    if future.done():
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
