"""redemptions found by their transaction (issue 25)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 12:30:00

The relayer sends the redemptions that reach it together in one `redeemMany` transaction: when it is mined, its
redemptions are settled by that transaction's hash (and moved to another one when it is signed again).
"""
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.create_index('ix_redemptions_tx_hash', ['tx_hash'])


def downgrade() -> None:
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.drop_index('ix_redemptions_tx_hash')
