"""residents' change per scheme (exact change, issue 27)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 18:15:00

The ledger now keeps, beside each balance, the change a redemption, exchange or refund left (value below a whole
point, in value units: credit cents x 1e6). The indexer's balances gain that column; the rows indexed before have
none, so the cursor is dropped and the indexer rebuilds its tables on its next round (as `citypoints index
--rebuild` would). Refund records gain the parts the chain gave back (a JSON text), exchange records the two sides the chain reports (value and change taken and given, a
JSON text); redemption records keep their parts as the chain reported them (a JSON text), unchanged.
"""
from alembic import op
import sqlalchemy as sa

from exchange_api.store.types import ChainInt

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM idx_cursor")
    with op.batch_alter_table('idx_balances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('change', ChainInt(), nullable=False, server_default='0'))
    with op.batch_alter_table('exchanges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sides', sa.Text(), nullable=True))
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parts', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_column('parts')
    with op.batch_alter_table('exchanges', schema=None) as batch_op:
        batch_op.drop_column('sides')
    with op.batch_alter_table('idx_balances', schema=None) as batch_op:
        batch_op.drop_column('change')
