"""quantity ledger: committed and delivered totals on listings, one ledger row per move,
and CHECK constraints that make an oversold or drifting listing impossible

Backfill: each listing's open quantity is kept (clamped to 0..quantity); what its orders
delivered is its delivered total, the rest is committed. Ledger rows are written for each
order that holds quantity (its reservation on the listing and, for a match proposal, on the
receiving listing; its deliveries), and one "publish" row per listing makes the listing's
rows add up to its totals. A published listing's status is set from what is open.

Revision ID: 0018_quantity_ledger
Revises: 0010_refunds, 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_quantity_ledger"
down_revision = ("0010_refunds", "0004")
branch_labels = None
depends_on = None

HOLDING = "('accepted', 'invoiced', 'paid', 'in_delivery', 'delivered', 'completed', 'disputed')"
CHECKS = {
    "open_not_negative": "open_quantity >= 0",
    "committed_not_negative": "committed_quantity >= 0",
    "delivered_not_negative": "delivered_quantity >= 0",
    "quantity_adds_up": (
        "abs(quantity - open_quantity - committed_quantity - delivered_quantity) < 0.0005"
    ),
    "status_follows_open": (
        "(status <> 'open' OR open_quantity > 0) AND (status <> 'reserved' OR open_quantity <= 0)"
    ),
}
DELIVERED_BY_ORDER = (
    "(SELECT COALESCE(SUM(d.quantity), 0) FROM order_deliveries d WHERE d.order_id = o.id)"
)


def upgrade() -> None:
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "committed_quantity",
                sa.Numeric(precision=14, scale=3),
                server_default="0",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column(
                "delivered_quantity",
                sa.Numeric(precision=14, scale=3),
                server_default="0",
                nullable=False,
            )
        )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("proposal_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("open_change", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("committed_change", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("delivered_change", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("actor_org_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_org_id"],
            ["organisations.id"],
            name=op.f("fk_ledger_entries_actor_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listings.id"],
            name=op.f("fk_ledger_entries_listing_id_listings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_ledger_entries_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposals.id"],
            name=op.f("fk_ledger_entries_proposal_id_proposals"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_entries_listing_id"), ["listing_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ledger_entries_order_id"), ["order_id"], unique=False)

    _backfill()

    with op.batch_alter_table("listings", schema=None) as batch_op:
        for name, text in CHECKS.items():
            batch_op.create_check_constraint(name, text)


def _backfill() -> None:
    execute = op.execute
    execute(
        "UPDATE listings SET open_quantity = CASE WHEN open_quantity < 0 THEN 0 "
        "WHEN open_quantity > quantity THEN quantity ELSE open_quantity END"
    )
    execute(
        "UPDATE listings SET delivered_quantity = COALESCE((SELECT SUM(d.quantity) "
        "FROM order_deliveries d JOIN orders o ON o.id = d.order_id "
        f"WHERE o.listing_id = listings.id AND o.status IN {HOLDING}), 0)"
    )
    execute(
        "UPDATE listings SET delivered_quantity = quantity - open_quantity "
        "WHERE delivered_quantity > quantity - open_quantity"
    )
    execute(
        "UPDATE listings SET committed_quantity = quantity - open_quantity - delivered_quantity"
    )
    execute("UPDATE listings SET status = 'reserved' WHERE status = 'open' AND open_quantity <= 0")
    execute("UPDATE listings SET status = 'open' WHERE status = 'reserved' AND open_quantity > 0")

    # Each holding order's reservation, on its listing and (a proposal's) receiving listing.
    columns = (
        "(listing_id, order_id, proposal_id, action, open_change, committed_change, "
        "delivered_change, note, created_at)"
    )
    execute(
        f"INSERT INTO ledger_entries {columns} "
        "SELECT o.listing_id, o.id, NULL, 'reserve', -o.quantity, o.quantity, 0, 'backfill', "
        f"o.created_at FROM orders o WHERE o.status IN {HOLDING}"
    )
    execute(
        f"INSERT INTO ledger_entries {columns} "
        "SELECT p.demand_id, o.id, p.id, 'reserve', -o.quantity, o.quantity, 0, 'backfill', "
        "o.created_at FROM orders o JOIN proposals p ON o.proposal_ref = 'proposal:' || p.id "
        f"WHERE o.source = 'proposal' AND o.status IN {HOLDING}"
    )
    execute(
        f"INSERT INTO ledger_entries {columns} "
        "SELECT e.listing_id, o.id, e.proposal_id, 'deliver', 0, "
        f"-{DELIVERED_BY_ORDER}, {DELIVERED_BY_ORDER}, 'backfill', o.created_at "
        "FROM ledger_entries e JOIN orders o ON o.id = e.order_id "
        f"WHERE e.action = 'reserve' AND {DELIVERED_BY_ORDER} > 0"
    )
    # Whatever the order rows do not explain (the listing's first quantity, edits, and any
    # earlier drift): one row per listing, so its rows add up to its totals.
    summed = "(SELECT COALESCE(SUM(e.{0}), 0) FROM ledger_entries e WHERE e.listing_id = l.id)"
    execute(
        f"INSERT INTO ledger_entries {columns} "
        "SELECT l.id, NULL, NULL, 'publish', "
        f"l.open_quantity - {summed.format('open_change')}, "
        f"l.committed_quantity - {summed.format('committed_change')}, "
        f"l.delivered_quantity - {summed.format('delivered_change')}, 'backfill', l.created_at "
        "FROM listings l"
    )


def downgrade() -> None:
    with op.batch_alter_table("listings", schema=None) as batch_op:
        for name in CHECKS:
            batch_op.drop_constraint(batch_op.f(f"ck_listings_{name}"), type_="check")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entries_order_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_entries_listing_id"))
    op.drop_table("ledger_entries")
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_column("delivered_quantity")
        batch_op.drop_column("committed_quantity")
