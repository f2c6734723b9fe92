"""The store's schema: what alembic's migrations build is what the models declare, on SQLite and PostgreSQL, and
a database migrated from an earlier revision is brought up to date without losing what the chain cannot rebuild."""
from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from exchange_api.store.db import MIGRATIONS, make_engine, migrate
from exchange_api.store.models import Base


@pytest.fixture
def empty_database(empty_database_url):
    engine = make_engine(empty_database_url)
    yield engine
    engine.dispose()


def upgrade(engine, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def test_migrations_buildExactlyWhatTheModelsDeclare(empty_database):
    migrate(empty_database)
    with empty_database.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations differ (add a migration): {diff}"


def test_migrationToActivityTimes_dropsTheIndexedRowsSoTheIndexerRebuildsThem(empty_database):
    """Rows indexed before activity entries had times cannot get them from the database: the cursor goes, and
    the indexer rebuilds from the chain; the service's own records (here a merchant) stay."""
    upgrade(empty_database, "0001")
    with empty_database.begin() as conn:
        conn.execute(text("INSERT INTO merchants (address, name, created_at) "
                          "VALUES ('0x0000000000000000000000000000000000000001', 'shop', CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO idx_cursor (id, chain_id, start_block, block_number, block_hash, head, updated_at) "
                          "VALUES (1, 31337, 1, 40, '0xab', 40, CURRENT_TIMESTAMP)"))
        conn.execute(text('INSERT INTO idx_activity (block_number, log_index, item, account, kind, scheme, amount, '
                          'balance_after, "by", reason_code, ref, tx_hash) VALUES (3, 0, 0, :account, :kind, 1, '
                          ':amount, :amount, :by, NULL, NULL, :tx)'),
                     {"account": "0x01", "kind": "issued", "amount": "5", "by": "0x02", "tx": "0xcd"})
    migrate(empty_database)
    with empty_database.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM idx_cursor")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM idx_activity")).scalar() == 0
        assert conn.execute(text("SELECT name FROM merchants")).scalar() == "shop"


def test_migrationToKeyScopes_makesEveryExistingMerchantKeyAManagers(empty_database):
    """Keys made before staff scopes could do everything a merchant may: they stay able to (manager); the other
    roles' keys get no scope."""
    upgrade(empty_database, "0009")
    with empty_database.begin() as conn:
        conn.execute(text("INSERT INTO merchants (address, name, created_at) "
                          "VALUES ('0x0000000000000000000000000000000000000001', 'shop', CURRENT_TIMESTAMP)"))
        for key_id, role, merchant in (("key_m", "merchant", 1), ("key_a", "auditor", None)):
            conn.execute(text("INSERT INTO api_keys (id, merchant_id, role, name, prefix, key_hash, created_at) "
                              "VALUES (:id, :m, :role, 'k', 'cpk_x', :h, CURRENT_TIMESTAMP)"),
                         {"id": key_id, "m": merchant, "role": role, "h": key_id * 8})
    migrate(empty_database)
    with empty_database.connect() as conn:
        scopes = dict(conn.execute(text("SELECT id, scope FROM api_keys")).all())
        assert scopes == {"key_m": "manager", "key_a": None}
        assert conn.execute(text("SELECT count(*) FROM merchant_applications")).scalar() == 0
