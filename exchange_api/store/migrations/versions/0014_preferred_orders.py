"""residents' preferred orders by key (issue 25)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 00:30:00

The relayer's pre-check of a batch (is a consent's nonce spent by a preferred order?) and a resident's plan (which
order do they prefer?) searched the text of every PreferredOrderSet event: a scan that grows with the city, and a
statement compiled anew for every batch. The indexer now keeps each preferred order as a row, found by nonce or by
resident. Orders indexed before are only in idx_events, so the cursor is dropped and the indexer rebuilds its tables
on its next round.
"""
from alembic import op
import sqlalchemy as sa

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM idx_cursor")
    op.create_table(
        'idx_preferred_orders',
        sa.Column('nonce', sa.String(length=66), nullable=False),
        sa.Column('resident', sa.String(length=42), nullable=False),
        sa.Column('schemes', sa.Text(), nullable=False),
        sa.Column('block_number', sa.BigInteger(), nullable=False),
        sa.Column('log_index', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('nonce', 'resident'),
    )
    op.create_index('ix_idx_preferred_orders_latest', 'idx_preferred_orders',
                    ['resident', 'block_number', 'log_index'])


def downgrade() -> None:
    op.drop_index('ix_idx_preferred_orders_latest', table_name='idx_preferred_orders')
    op.drop_table('idx_preferred_orders')
