"""what each indexer commit changed, for the read process's view (issue 19)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 02:50:00

The read process answered balances from an in-memory view that it dropped whole at every indexer commit: during a
burst of redemptions (a commit a second) nearly every balance read missed it and read the store. Each balance row
now carries the block that last wrote it, and the cursor the last block whose commit changed what every balance
reads (a rate, a scheme's status or expiry, a merchant, a recovery) and how many times the tables were rebuilt, so
the read process updates only the accounts a commit changed. Rows indexed before carry block 0 (older than any
cursor): nothing is rebuilt.
"""
from alembic import op
import sqlalchemy as sa

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('idx_balances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('block_number', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.create_index('ix_idx_balances_block_number', ['block_number'])
    with op.batch_alter_table('idx_cursor', schema=None) as batch_op:
        batch_op.add_column(sa.Column('view_reset_block', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('rebuilds', sa.BigInteger(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('idx_cursor', schema=None) as batch_op:
        batch_op.drop_column('rebuilds')
        batch_op.drop_column('view_reset_block')
    with op.batch_alter_table('idx_balances', schema=None) as batch_op:
        batch_op.drop_index('ix_idx_balances_block_number')
        batch_op.drop_column('block_number')
