"""planning over time: a listing's weekly rate, a run's horizon and carbon price

Revision ID: 0022_planning_horizon
Revises: 0021_listing_external_id
"""

import sqlalchemy as sa
from alembic import op

revision = "0022_planning_horizon"
down_revision = "0021_listing_external_id"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("weekly_rate", sa.Numeric(precision=14, scale=3), nullable=True)
        )
    with op.batch_alter_table("match_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("horizon_weeks", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("carbon_price_per_kg", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("match_runs", schema=None) as batch_op:
        batch_op.drop_column("carbon_price_per_kg")
        batch_op.drop_column("horizon_weeks")
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_column("weekly_rate")
