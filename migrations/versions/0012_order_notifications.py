"""order notifications: a notification can point at an order; members choose order mails

Every move of an order tells the other party in-app; ``users.notify_order_mail`` (on by
default) adds a mail.

Revision ID: 0012_order_notifications
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_order_notifications"
down_revision = "0002"
branch_labels = None
depends_on = ("0003_orders", "0008")


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("order_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_notifications_order_id_orders"),
            "orders",
            ["order_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("notify_order_mail", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("notify_order_mail")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_notifications_order_id_orders"), type_="foreignkey")
        batch_op.drop_column("order_id")
