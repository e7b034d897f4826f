"""trace: transfer tickets, 確認結果票, 受領書, receipt links and amendments

Every foreign key is RESTRICT: trace records are kept five years and must not go with
the order, listing or organisation they refer to.

Revision ID: 0006_trace
Revises: 0002
Depends on: 0003_orders (the tickets refer to orders and their deliveries)
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_trace"
down_revision = "0002"
branch_labels = None
depends_on = "0003_orders"


def upgrade() -> None:
    op.create_table(
        "trace_amendments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_type", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=False),
        sa.Column("new_value", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("amended_by_id", sa.Integer(), nullable=True),
        sa.Column("amended_by_org_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["amended_by_id"],
            ["users.id"],
            name=op.f("fk_trace_amendments_amended_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["amended_by_org_id"],
            ["organisations.id"],
            name=op.f("fk_trace_amendments_amended_by_org_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_trace_amendments_order_id_orders"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trace_amendments")),
    )
    op.create_index(
        op.f("ix_trace_amendments_order_id"), "trace_amendments", ["order_id"], unique=False
    )
    op.create_table(
        "trace_confirmation_sheets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("destination_listing_id", sa.Integer(), nullable=True),
        sa.Column("destination_name", sa.String(length=200), nullable=False),
        sa.Column("destination_address", sa.String(length=300), nullable=False),
        sa.Column(
            "permit_basis",
            sa.Enum(
                "moritsuchi_permit",
                "ordinance_permit",
                "no_permit_needed",
                name="permitbasis",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("permit_authority", sa.String(length=100), nullable=False),
        sa.Column("permit_no", sa.String(length=60), nullable=False),
        sa.Column(
            "contamination_status",
            sa.Enum(
                "not_required",
                "investigated_clean",
                "notified",
                "designated_area",
                name="contaminationstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by_org_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["destination_listing_id"],
            ["listings.id"],
            name=op.f("fk_trace_confirmation_sheets_destination_listing_id_listings"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_trace_confirmation_sheets_order_id_orders"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_trace_confirmation_sheets_recorded_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_org_id"],
            ["organisations.id"],
            name=op.f("fk_trace_confirmation_sheets_recorded_by_org_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trace_confirmation_sheets")),
        sa.UniqueConstraint("order_id", name=op.f("uq_trace_confirmation_sheets_order_id")),
    )
    op.create_table(
        "trace_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("receiving_org_id", sa.Integer(), nullable=False),
        sa.Column("destination_manager", sa.String(length=100), nullable=False),
        sa.Column("volume", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("completed_on", sa.Date(), nullable=False),
        sa.Column("matches_plan", sa.Boolean(), nullable=True),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("issued_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["issued_by_id"],
            ["users.id"],
            name=op.f("fk_trace_receipts_issued_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_trace_receipts_order_id_orders"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["receiving_org_id"],
            ["organisations.id"],
            name=op.f("fk_trace_receipts_receiving_org_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trace_receipts")),
        sa.UniqueConstraint("number", name=op.f("uq_trace_receipts_number")),
    )
    op.create_index(
        op.f("ix_trace_receipts_order_id"), "trace_receipts", ["order_id"], unique=False
    )
    op.create_table(
        "trace_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("onward", sa.Boolean(), nullable=False),
        sa.Column("transit", sa.Boolean(), nullable=False),
        sa.Column("origin_listing_id", sa.Integer(), nullable=True),
        sa.Column("origin_name", sa.String(length=200), nullable=False),
        sa.Column("origin_address", sa.String(length=300), nullable=False),
        sa.Column("origin_lat", sa.Float(), nullable=True),
        sa.Column("origin_lon", sa.Float(), nullable=True),
        sa.Column("destination_listing_id", sa.Integer(), nullable=True),
        sa.Column("destination_name", sa.String(length=200), nullable=False),
        sa.Column("destination_address", sa.String(length=300), nullable=False),
        sa.Column("destination_lat", sa.Float(), nullable=True),
        sa.Column("destination_lon", sa.Float(), nullable=True),
        sa.Column("destination_kind", sa.String(length=16), nullable=False),
        sa.Column("receiving_org_id", sa.Integer(), nullable=False),
        sa.Column("planned_name", sa.String(length=200), nullable=False),
        sa.Column("planned_address", sa.String(length=300), nullable=False),
        sa.Column("matches_plan", sa.Boolean(), nullable=True),
        sa.Column("soil_class_code", sa.String(length=8), nullable=True),
        sa.Column("vehicle_reg_no", sa.String(length=40), nullable=False),
        sa.Column("driver_name", sa.String(length=100), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("time_out", sa.DateTime(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("issued_by_id", sa.Integer(), nullable=True),
        sa.Column("issued_by_org_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("issued", "confirmed", name="ticketstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("time_in", sa.DateTime(), nullable=True),
        sa.Column("quantity_received", sa.Numeric(precision=14, scale=3), nullable=True),
        sa.Column("discrepancy_note", sa.Text(), nullable=False),
        sa.Column("confirmed_by_id", sa.Integer(), nullable=True),
        sa.Column("confirmed_by_org_id", sa.Integer(), nullable=True),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["confirmed_by_id"],
            ["users.id"],
            name=op.f("fk_trace_tickets_confirmed_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by_org_id"],
            ["organisations.id"],
            name=op.f("fk_trace_tickets_confirmed_by_org_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["order_deliveries.id"],
            name=op.f("fk_trace_tickets_delivery_id_order_deliveries"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["destination_listing_id"],
            ["listings.id"],
            name=op.f("fk_trace_tickets_destination_listing_id_listings"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["issued_by_id"],
            ["users.id"],
            name=op.f("fk_trace_tickets_issued_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["issued_by_org_id"],
            ["organisations.id"],
            name=op.f("fk_trace_tickets_issued_by_org_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_trace_tickets_order_id_orders"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["origin_listing_id"],
            ["listings.id"],
            name=op.f("fk_trace_tickets_origin_listing_id_listings"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["receiving_org_id"],
            ["organisations.id"],
            name=op.f("fk_trace_tickets_receiving_org_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trace_tickets")),
        sa.UniqueConstraint("order_id", "seq", name="uq_trace_tickets_order_seq"),
        sa.UniqueConstraint("token", name=op.f("uq_trace_tickets_token")),
    )
    op.create_index(op.f("ix_trace_tickets_order_id"), "trace_tickets", ["order_id"], unique=False)
    op.create_index(
        op.f("ix_trace_tickets_receiving_org_id"),
        "trace_tickets",
        ["receiving_org_id"],
        unique=False,
    )
    op.create_index(op.f("ix_trace_tickets_status"), "trace_tickets", ["status"], unique=False)
    op.create_table(
        "trace_receipt_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("receipt_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["receipt_id"],
            ["trace_receipts.id"],
            name=op.f("fk_trace_receipt_tickets_receipt_id_trace_receipts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["trace_tickets.id"],
            name=op.f("fk_trace_receipt_tickets_ticket_id_trace_tickets"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trace_receipt_tickets")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_trace_receipt_tickets_ticket_id")),
    )
    op.create_index(
        op.f("ix_trace_receipt_tickets_receipt_id"),
        "trace_receipt_tickets",
        ["receipt_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_trace_receipt_tickets_receipt_id"), table_name="trace_receipt_tickets")
    op.drop_table("trace_receipt_tickets")
    op.drop_index(op.f("ix_trace_tickets_status"), table_name="trace_tickets")
    op.drop_index(op.f("ix_trace_tickets_receiving_org_id"), table_name="trace_tickets")
    op.drop_index(op.f("ix_trace_tickets_order_id"), table_name="trace_tickets")
    op.drop_table("trace_tickets")
    op.drop_index(op.f("ix_trace_receipts_order_id"), table_name="trace_receipts")
    op.drop_table("trace_receipts")
    op.drop_table("trace_confirmation_sheets")
    op.drop_index(op.f("ix_trace_amendments_order_id"), table_name="trace_amendments")
    op.drop_table("trace_amendments")
