"""the indexer keeps who approved each proposal, and whether by signature (Consortium.approveBySig)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 17:30:00

A new indexer table. Approvals indexed before it were not kept, so the cursor is dropped and the indexer rebuilds
its tables from the chain on its next round (as `citypoints index --rebuild` would); the service's own records
stay.
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('idx_proposal_approvals',
    sa.Column('proposal_id', sa.BigInteger(), nullable=False),
    sa.Column('member', sa.String(length=42), nullable=False),
    sa.Column('by_signature', sa.Boolean(), nullable=False),
    sa.Column('submitter', sa.String(length=42), nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.Column('timestamp', sa.BigInteger(), nullable=False),
    sa.Column('tx_hash', sa.String(length=66), nullable=False),
    sa.PrimaryKeyConstraint('proposal_id', 'member')
    )
    op.execute("DELETE FROM idx_cursor")


def downgrade() -> None:
    op.drop_table('idx_proposal_approvals')
