"""chain integers the API stores take their full on-chain width

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 16:50:00

Credits are uint96 on chain (a redemption's credits and refunded total), exchange amounts and scheme ids uint256,
signed deadlines uint256 (the API accepts them up to uint64): all beyond BIGINT's 63 bits, so a value the contracts
take was a 500 at the insert. They become ChainInt (NUMERIC(78, 0) on PostgreSQL, decimal text on SQLite), as the
indexer's tables already are. The values held are kept (SQLite's batch copy and PostgreSQL's cast are exact).
"""
from alembic import op
import sqlalchemy as sa

from exchange_api.store.types import ChainInt


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

WIDENED = {
    'redemption_requests': [('credits', False)],
    'redemptions': [('credits', False), ('deadline', False), ('refunded', False)],
    'refunds': [('credits', False)],
    'exchanges': [('from_scheme', False), ('to_scheme', False), ('points', False), ('min_received', False),
                  ('deadline', False), ('received', True), ('credits', True)],
    'relayed_transactions': [('deadline', True)],
}


def _alter(to_wide: bool) -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    for table, columns in WIDENED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, nullable in columns:
                old, new = (sa.BigInteger(), ChainInt()) if to_wide else (ChainInt(), sa.BigInteger())
                extra = {}
                if postgres:
                    extra['postgresql_using'] = f'{name}::numeric(78, 0)' if to_wide else f'{name}::bigint'
                batch_op.alter_column(name, existing_type=old, type_=new, existing_nullable=nullable, **extra)


def upgrade() -> None:
    _alter(True)


def downgrade() -> None:
    # Values beyond BIGINT do not fit back: PostgreSQL refuses the downgrade then; SQLite keeps the text.
    _alter(False)
