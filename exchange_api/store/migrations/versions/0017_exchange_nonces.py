"""the next exchange nonce handed to each resident's quote; exchanges found by their transaction (issue 25)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 15:45:00

An exchange's nonce is now a number, spent in the word that holds the resident's daily usage (no storage word of its
own): each quote is handed the next one, counted here, so two open quotes never share one. The relayer sends the
exchanges that reach it together in one `exchangeMany` transaction: they are settled by that transaction's hash.
"""
from alembic import op
import sqlalchemy as sa

from exchange_api.store.types import ChainInt

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('exchange_nonces',
                    sa.Column('resident', sa.String(length=42), nullable=False),
                    sa.Column('next_nonce', ChainInt(), nullable=False),
                    sa.PrimaryKeyConstraint('resident'))
    with op.batch_alter_table('exchanges', schema=None) as batch_op:
        batch_op.create_index('ix_exchanges_tx_hash', ['tx_hash'])


def downgrade() -> None:
    with op.batch_alter_table('exchanges', schema=None) as batch_op:
        batch_op.drop_index('ix_exchanges_tx_hash')
    op.drop_table('exchange_nonces')
