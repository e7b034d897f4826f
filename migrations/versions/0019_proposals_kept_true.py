"""proposals kept true: what a reduced proposal first offered, and why it changed

Revision ID: 0019_proposals_kept_true
Revises: 0018_quantity_ledger
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_proposals_kept_true"
down_revision = "0018_quantity_ledger"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("offered_quantity", sa.Numeric(precision=14, scale=3), nullable=True)
        )
        batch_op.add_column(sa.Column("reason", sa.Text(), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_column("reason")
        batch_op.drop_column("offered_quantity")
