"""Engine, sessions and migrations. Database work runs in worker threads (`Store.run`), so the event loop
never waits on the database; an outage surfaces as DatabaseUnavailable (HTTP 503) and the pool's pre-ping
reconnects by itself once the database is back.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import anyio
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from exchange_api.errors import DatabaseUnavailable

T = TypeVar("T")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=20,
                               max_overflow=20)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # WAL: readers never wait for the writer
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=20, pool_timeout=5,
                         connect_args={"connect_timeout": 3})


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
        self.limiter = anyio.CapacityLimiter(16)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise

    def call(self, fn: Callable[[Session], T]) -> T:
        """Run fn(session) in one transaction (synchronously); database outages become DatabaseUnavailable."""
        try:
            with self.session() as s:
                return fn(s)
        except OperationalError as exc:
            raise DatabaseUnavailable("the database is unavailable; retry shortly") from exc
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise DatabaseUnavailable("the database connection was lost; retry shortly") from exc
            raise

    async def run(self, fn: Callable[[Session], T]) -> T:
        """`call` in a worker thread."""
        return await anyio.to_thread.run_sync(self.call, fn, limiter=self.limiter)

    def migrate(self) -> None:
        migrate(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
