"""stripe payouts: an organisation's Stripe Express account and whether it takes charges

Revision ID: 0015_stripe_payouts
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_stripe_payouts"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stripe_account_id", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column(
                "stripe_charges_enabled", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.create_unique_constraint(
            op.f("uq_organisations_stripe_account_id"), ["stripe_account_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_organisations_stripe_account_id"), type_="unique")
        batch_op.drop_column("stripe_charges_enabled")
        batch_op.drop_column("stripe_account_id")
