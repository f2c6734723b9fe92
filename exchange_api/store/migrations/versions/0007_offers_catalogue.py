"""merchants' offers catalogue (issue 22): merchant profiles (names zh/en, category, district), offers (price
in credit cents, optional stock, validity window) and their images

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 18:40:00

New tables only: nothing before changes.
"""
from alembic import op
import sqlalchemy as sa

from exchange_api.store.types import OrderedUInt

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "merchant_profiles",
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("name_zh", sa.String(100), nullable=False),
        sa.Column("name_en", sa.String(100), nullable=False),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("district", sa.String(20), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"]),
        sa.PrimaryKeyConstraint("merchant_id"),
    )
    op.create_table(
        "offers",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("title_zh", sa.String(120), nullable=False),
        sa.Column("title_en", sa.String(120), nullable=False),
        sa.Column("description_zh", sa.String(2000), nullable=False),
        sa.Column("description_en", sa.String(2000), nullable=False),
        sa.Column("price", OrderedUInt(29), nullable=False),
        sa.Column("stock", sa.BigInteger(), nullable=True),
        sa.Column("valid_from", sa.DateTime(), nullable=False),
        sa.Column("valid_until", sa.DateTime(), nullable=True),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("district", sa.String(20), nullable=False),
        sa.Column("has_image", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"]),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("id"),
    )
    op.create_index("ix_offers_merchant", "offers", ["merchant_id", "deleted_at"])
    op.create_index("ix_offers_catalogue", "offers", ["deleted_at", "seq"])
    op.create_table(
        "offer_images",
        sa.Column("offer_seq", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(20), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("etag", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["offer_seq"], ["offers.seq"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("offer_seq"),
    )


def downgrade() -> None:
    op.drop_table("offer_images")
    op.drop_index("ix_offers_catalogue", table_name="offers")
    op.drop_index("ix_offers_merchant", table_name="offers")
    op.drop_table("offers")
    op.drop_table("merchant_profiles")
