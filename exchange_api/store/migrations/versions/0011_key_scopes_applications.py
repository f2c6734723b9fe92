"""merchants' keys get a staff scope, a rotation's end and a last-used time; shops apply to accept points
(issue 22)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 00:30:00

Every merchant key made before is a manager's (it could do everything); other roles' keys have no scope. A new
table `merchant_applications` for the shops' self-service applications.
"""
from alembic import op
import sqlalchemy as sa

revision = "0011"
down_revision = "0010"  # after vouchers (both branched from 0009; rewired at the merge)
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope", sa.String(20), nullable=True))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("replaced_by", sa.String(40), nullable=True))
        batch_op.add_column(sa.Column("last_used_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE api_keys SET scope = 'manager' WHERE role = 'merchant'")
    op.create_table(
        "merchant_applications",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name_zh", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("district", sa.String(40), nullable=False),
        sa.Column("account", sa.String(42), nullable=False),
        sa.Column("contact", sa.LargeBinary(), nullable=False),
        sa.Column("claim_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("key_id", sa.String(40), nullable=True),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"]),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("id"),
        sa.UniqueConstraint("claim_hash"),
    )
    op.create_index("ix_merchant_applications_account", "merchant_applications", ["account"])


def downgrade() -> None:
    op.drop_index("ix_merchant_applications_account", table_name="merchant_applications")
    op.drop_table("merchant_applications")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("replaced_by")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("scope")
