"""order refunds: money the payee returned on a paid order, with its 返還インボイス

Revision ID: 0010_refunds
Revises: 0003_orders
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_refunds"
down_revision = "0003_orders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_refunds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("backend", sa.String(length=16), nullable=False),
        sa.Column("amount_yen", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.Column("credit_note_number", sa.String(length=100), nullable=True),
        sa.Column("credit_note", sa.JSON(), nullable=True),
        sa.Column("refunded_by_id", sa.Integer(), nullable=True),
        sa.Column("refunded_by_org_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_refunds_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["order_payments.id"],
            name=op.f("fk_order_refunds_payment_id_order_payments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["refunded_by_id"], ["users.id"], name=op.f("fk_order_refunds_refunded_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["refunded_by_org_id"],
            ["organisations.id"],
            name=op.f("fk_order_refunds_refunded_by_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_refunds")),
        sa.UniqueConstraint("credit_note_number", name=op.f("uq_order_refunds_credit_note_number")),
        sa.UniqueConstraint("order_id", "idempotency_key", name=op.f("uq_order_refunds_order_id")),
        sa.UniqueConstraint("payment_id", "sequence", name=op.f("uq_order_refunds_payment_id")),
    )
    with op.batch_alter_table("order_refunds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_refunds_order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("order_refunds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_refunds_order_id"))
    op.drop_table("order_refunds")
