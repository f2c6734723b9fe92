"""activity entries carry their block's time

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 00:45:00

The rows indexed before this revision have no time; the indexer's tables hold nothing the chain does not, so the
cursor is dropped and the indexer rebuilds them, times included, on its next round (as `citypoints index
--rebuild` would).
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM idx_activity")
    op.execute("DELETE FROM idx_cursor")
    with op.batch_alter_table('idx_activity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timestamp', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.alter_column('timestamp', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('idx_activity', schema=None) as batch_op:
        batch_op.drop_column('timestamp')
