"""pickup cancellations: who cancelled a booking and when (status 'cancelled')

A booking cancelled before its slot begins gives the place back; booking the order again
moves the same row to the new slot.

Revision ID: 0013_pickup_cancellations
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_pickup_cancellations"
down_revision = "0002"
branch_labels = None
depends_on = "0007"


def upgrade() -> None:
    with op.batch_alter_table("pickup_bookings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancelled_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("cancelled_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_pickup_bookings_cancelled_by_id_users"), "users", ["cancelled_by_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("pickup_bookings", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("fk_pickup_bookings_cancelled_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("cancelled_by_id")
        batch_op.drop_column("cancelled_at")
