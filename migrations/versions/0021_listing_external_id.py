"""catalog: an organisation's own key for each listing, so that re-imports update

``external_id`` is unique within an organisation (NULLs, the listings typed by hand,
never collide).

Revision ID: 0021_listing_external_id
Revises: 0020_deals (after the quantity ledger, which rebuilds the same table on SQLite)
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_listing_external_id"
down_revision = "0020_deals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=100), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_listings_organisation_id"), ["organisation_id", "external_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_listings_organisation_id"), type_="unique")
        batch_op.drop_column("external_id")
