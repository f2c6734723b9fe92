"""webhook deliveries keep a log merchants read: the receiver's last status code, when it was last tried, and a
limit of attempts for a delivery a merchant asked to send again

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 17:10:00

New nullable columns only: rows delivered or queued before keep what they had (no status code, no time of the
last attempt; the configured number of attempts).
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_status_code', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('last_attempt_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('attempt_limit', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_column('attempt_limit')
        batch_op.drop_column('last_attempt_at')
        batch_op.drop_column('last_status_code')
