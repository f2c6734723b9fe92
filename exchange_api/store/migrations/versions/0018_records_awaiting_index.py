"""redemptions and exchanges whose nonce the chain found used, found while they await the index

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 19:05:00

A redemption or exchange the chain refused because its nonce was used stays pending, with the block where the chain
said so, until the indexer has that block; then it is confirmed (the same intent, carried out by another
transaction) or failed (services/confirmations.py). A partial index finds those few records without reading the
whole table.
"""
from alembic import op
import sqlalchemy as sa

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

WHERE = sa.text("status = 'pending' AND block_number IS NOT NULL")


def upgrade() -> None:
    for table in ('redemptions', 'exchanges'):
        op.create_index(f'ix_{table}_awaiting', table, ['block_number'], sqlite_where=WHERE, postgresql_where=WHERE)


def downgrade() -> None:
    for table in ('redemptions', 'exchanges'):
        op.drop_index(f'ix_{table}_awaiting', table_name=table)
