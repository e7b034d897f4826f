"""The ledger migration on a database with orders already in it: each listing keeps what
was open, what its orders delivered becomes delivered and the rest committed, an oversold
row is clamped, the status follows, and the ledger rows add up to the totals (so the
CHECK constraints can be added)."""

from __future__ import annotations

import shutil
from decimal import Decimal

import pytest
import sqlalchemy as sa

from market import migrate
from market.orders import deliveries, requests, transitions
from tests.conftest import in_session


def test_the_backfill_keeps_what_orders_hold_and_the_rows_add_up(app, factory, tmp_path):
    url = app.config["DATABASE_URL"]
    if not url.startswith("sqlite"):
        pytest.skip("one database is enough: the backfill's SQL is the same on both")
    seller, buyer = factory.user(), factory.user()
    listing = factory.listing(seller, "soil_offer", quantity=100, price_per_unit=800)
    oversold = factory.listing(seller, "soil_offer", quantity=10, price_per_unit=800)

    from market.accounts.models import User

    def trade(s):
        def as_(member):
            return s.get(User, member.id)

        order = requests.request_order(s, as_(buyer), listing, {"quantity": "30"})
        for action in ("accept", "issue_invoice", "mark_paid"):
            transitions.perform(s, as_(seller), order.id, action)
        deliveries.record_delivery(s, as_(seller), order.id, {"quantity": "10"})
        return order.id

    in_session(app, trade)
    app.extensions["meguri.db"].dispose()
    copy = tmp_path / "before.db"
    shutil.copy(url.removeprefix("sqlite:///"), copy)
    before = f"sqlite:///{copy}"

    # The database as it was before the ledger: only open_quantity, and one row oversold
    # by the old edit race (open above the quantity).
    migrate.downgrade(before, "0010_refunds")
    engine = sa.create_engine(before)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE listings SET open_quantity = 14 WHERE id = :id"), {"id": oversold}
        )
    engine.dispose()

    migrate.upgrade(before)

    engine = sa.create_engine(before)
    with engine.connect() as conn:

        def totals(lid):
            row = conn.execute(
                sa.text(
                    "SELECT open_quantity, committed_quantity, delivered_quantity, status "
                    "FROM listings WHERE id = :id"
                ),
                {"id": lid},
            ).one()
            rows = conn.execute(
                sa.text(
                    "SELECT SUM(open_change), SUM(committed_change), SUM(delivered_change) "
                    "FROM ledger_entries WHERE listing_id = :id"
                ),
                {"id": lid},
            ).one()
            return (
                tuple(Decimal(str(x)) for x in row[:3]),
                row[3],
                tuple(Decimal(str(x)) for x in rows),
            )

        assert totals(listing) == ((70, 20, 10), "open", (70, 20, 10))
        assert totals(oversold) == ((10, 0, 0), "open", (10, 0, 0))
        held = conn.execute(
            sa.text(
                "SELECT SUM(committed_change) FROM ledger_entries WHERE order_id IS NOT NULL "
                "AND listing_id = :id"
            ),
            {"id": listing},
        ).scalar()
        assert Decimal(str(held)) == 20  # the order's own rows say what it still holds
    engine.dispose()
