"""pickup no-shows: the reason a municipality gives when it records one by hand, and who

A no-show recorded by the hourly job has neither (it is the slot that ended).

Revision ID: 0019_pickup_no_show_reason
Revises: 0013_pickup_cancellations
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_pickup_no_show_reason"
down_revision = "0013_pickup_cancellations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pickup_bookings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("no_show_reason", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("no_show_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_pickup_bookings_no_show_by_id_users"), "users", ["no_show_by_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("pickup_bookings", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_pickup_bookings_no_show_by_id_users"), type_="foreignkey")
        batch_op.drop_column("no_show_by_id")
        batch_op.drop_column("no_show_reason")
