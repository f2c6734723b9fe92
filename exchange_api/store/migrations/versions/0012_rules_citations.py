"""each issued entry's rules citation (issue 24)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 00:15:00

An issuance batch may cite the published version of its scheme's rules (PointsLedger.issueBatchCitingRules,
event IssuanceRulesCited): the indexer keeps, on each issued entry of such a batch, the version and the rules
document's sha256, so a resident's history can say which rule of which version gave the points. Entries indexed
before have neither, so the cursor is dropped and the indexer rebuilds its tables on its next round.
"""
from alembic import op
import sqlalchemy as sa

revision = '0012'
down_revision = '0011'  # after vouchers and key scopes (branched from 0009; rewired at the merge)
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM idx_cursor")
    with op.batch_alter_table('idx_activity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rules_version', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('rules_hash', sa.String(length=66), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('idx_activity', schema=None) as batch_op:
        batch_op.drop_column('rules_hash')
        batch_op.drop_column('rules_version')
