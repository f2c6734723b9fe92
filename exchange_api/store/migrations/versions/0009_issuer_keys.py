"""issuers' API keys carry the issuer's chain account (issue 23: an issuer's resident lookup is on the identity-use
trail with that account as its actor)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 21:45:00

A nullable column: keys made before keep working as they were.
"""
from alembic import op
import sqlalchemy as sa

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account", sa.String(42), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("account")
