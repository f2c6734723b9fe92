"""each scheme's expiry (issue 25)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 00:10:00

A scheme's points may expire (PointsLedger.setExpiry, event SchemeExpiryChanged): the indexer keeps the expiry in
months on the scheme's row, so the balances answer knows which schemes' live points to read from the chain. Chains
indexed before had no expiry (the event did not exist), so 0 is right for every row and nothing is rebuilt.
"""
from alembic import op
import sqlalchemy as sa

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('idx_schemes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expiry_months', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('idx_schemes', schema=None) as batch_op:
        batch_op.drop_column('expiry_months')
