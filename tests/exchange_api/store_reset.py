"""Each API test finds the store as the package's fixtures left it, and leaves it so.

The live service (its relayer, indexer and webhook dispatcher) runs once per package and database, as it runs in
production: restarting it for every test would cost more than the tests. So what a test wrote is taken away after
it instead: every table the service owns goes back to the rows it held when the package's fixtures were done (the
merchants and API keys of `keys`), on SQLite and PostgreSQL alike, in one transaction. The chain is reverted beside
it (`w3`'s snapshot), and the indexer's tables (`idx_*`) follow the chain by themselves: they are the projection of
the blocks, which the indexer rewinds when the block it stands on is gone (a revert looks like a reorganisation).
"""
from __future__ import annotations

from sqlalchemy import Table, delete, insert, select

from exchange_api.store.db import Store
from exchange_api.store.models import Base

PROJECTION = "idx_"  # the indexer's tables: the chain's projection, rewound with the chain


def owned_tables() -> list[Table]:
    """The service's own tables, parents before children."""
    return [t for t in Base.metadata.sorted_tables if not t.name.startswith(PROJECTION)]


class StoreBaseline:
    """The rows of the service's own tables at one moment, and the way back to them."""

    def __init__(self, store: Store):
        self.store = store
        self.tables = owned_tables()
        self.rows = store.call(lambda s: {t.name: [dict(r._mapping) for r in s.execute(select(t))]
                                          for t in self.tables}, writer=False)

    def restore(self) -> None:
        def reset(s):
            for table in reversed(self.tables):  # children first: no foreign key is left dangling
                s.execute(delete(table))
            for table in self.tables:
                if self.rows[table.name]:
                    s.execute(insert(table), self.rows[table.name])
        self.store.call(reset)

    def differences(self) -> dict[str, int]:
        """Tables whose row count differs from the baseline's (empty when restored)."""
        counts = self.store.call(lambda s: {t.name: len(s.execute(select(t)).all()) for t in self.tables},
                                 writer=False)
        return {name: n for name, n in counts.items() if n != len(self.rows[name])}
