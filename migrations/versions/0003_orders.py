"""orders: orders, their transitions, deliveries, payments, processed webhook events,
and per-listing order terms (instant acceptance)

Revision ID: 0003_orders
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_orders"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "processed_webhook_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processed_webhook_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_processed_webhook_events_event_id")),
    )
    op.create_table(
        "listing_order_terms",
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("instant_accept", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listings.id"],
            name=op.f("fk_listing_order_terms_listing_id_listings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("listing_id", name=op.f("pk_listing_order_terms")),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("requester_org_id", sa.Integer(), nullable=False),
        sa.Column("responder_org_id", sa.Integer(), nullable=False),
        sa.Column("buyer_org_id", sa.Integer(), nullable=False),
        sa.Column("seller_org_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("proposal_ref", sa.String(length=64), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "requested",
                "accepted",
                "invoiced",
                "paid",
                "in_delivery",
                "delivered",
                "completed",
                "declined",
                "cancelled",
                "disputed",
                name="orderstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("status_before_dispute", sa.String(length=16), nullable=True),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("unit_price_yen", sa.Integer(), nullable=False),
        sa.Column(
            "transport_arrangement",
            sa.Enum(
                "receiver_collects",
                "supplier_delivers",
                name="transportarrangement",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("transport_fee_yen", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("payment_attempt", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["buyer_org_id"],
            ["organisations.id"],
            name=op.f("fk_orders_buyer_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"], name=op.f("fk_orders_listing_id_listings")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["users.id"], name=op.f("fk_orders_requested_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["requester_org_id"],
            ["organisations.id"],
            name=op.f("fk_orders_requester_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["responder_org_id"],
            ["organisations.id"],
            name=op.f("fk_orders_responder_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["seller_org_id"],
            ["organisations.id"],
            name=op.f("fk_orders_seller_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_buyer_org_id"), ["buyer_org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_listing_id"), ["listing_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_orders_requester_org_id"), ["requester_org_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_orders_responder_org_id"), ["responder_org_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_orders_seller_org_id"), ["seller_org_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_orders_status"), ["status"], unique=False)

    op.create_table(
        "order_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("delivered_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by_org_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_deliveries_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_order_deliveries_recorded_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_org_id"],
            ["organisations.id"],
            name=op.f("fk_order_deliveries_recorded_by_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_deliveries")),
    )
    with op.batch_alter_table("order_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_deliveries_order_id"), ["order_id"], unique=False
        )

    op.create_table(
        "order_payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("backend", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("amount_yen", sa.Integer(), nullable=False),
        sa.Column("platform_fee_yen", sa.Integer(), nullable=False),
        sa.Column("refunded_yen", sa.Integer(), nullable=False),
        sa.Column("payer_org_id", sa.Integer(), nullable=False),
        sa.Column("payee_org_id", sa.Integer(), nullable=False),
        sa.Column("client_secret", sa.String(length=200), nullable=True),
        sa.Column("destination_account_id", sa.String(length=64), nullable=True),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.Column("last_event_at", sa.BigInteger(), nullable=True),
        sa.Column("invoice", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_payments_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["payee_org_id"],
            ["organisations.id"],
            name=op.f("fk_order_payments_payee_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["payer_org_id"],
            ["organisations.id"],
            name=op.f("fk_order_payments_payer_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_payments")),
        sa.UniqueConstraint("reference", name=op.f("uq_order_payments_reference")),
    )
    with op.batch_alter_table("order_payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_payments_order_id"), ["order_id"], unique=False)

    op.create_table(
        "order_transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_org_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_org_id"],
            ["organisations.id"],
            name=op.f("fk_order_transitions_actor_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_user_id"], ["users.id"], name=op.f("fk_order_transitions_actor_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_transitions_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_transitions")),
    )
    with op.batch_alter_table("order_transitions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_transitions_order_id"), ["order_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("order_transitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_transitions_order_id"))

    op.drop_table("order_transitions")
    with op.batch_alter_table("order_payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_payments_order_id"))

    op.drop_table("order_payments")
    with op.batch_alter_table("order_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_deliveries_order_id"))

    op.drop_table("order_deliveries")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_status"))
        batch_op.drop_index(batch_op.f("ix_orders_seller_org_id"))
        batch_op.drop_index(batch_op.f("ix_orders_responder_org_id"))
        batch_op.drop_index(batch_op.f("ix_orders_requester_org_id"))
        batch_op.drop_index(batch_op.f("ix_orders_listing_id"))
        batch_op.drop_index(batch_op.f("ix_orders_buyer_org_id"))

    op.drop_table("orders")
    op.drop_table("listing_order_terms")
    op.drop_table("processed_webhook_events")
