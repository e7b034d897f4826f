"""The quantity ledger under random interleavings (hypothesis state machine): the seller
edits the quantity, buyers request, the seller accepts or declines, either cancels, loads
are delivered, a short load is closed. After every step, as committed to the database:
open + committed + delivered = quantity, nothing is negative, the status follows what is
open, the ledger rows add up to the listing's totals, and what is committed is exactly
what the live orders still hold."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from market.accounts.models import User
from market.catalog import ledger
from market.catalog import services as catalog
from market.catalog.models import Listing, ListingStatus
from market.errors import DomainError
from market.orders import deliveries, requests, transitions
from market.orders.models import Order, OrderStatus
from tests.conftest import in_session

QUANTITY = st.integers(min_value=1, max_value=12).map(Decimal)


def test_open_committed_and_delivered_always_add_up(app, factory):
    if not app.extensions["meguri.db"].is_sqlite:
        pytest.skip("one database is enough for the property; the races run on PostgreSQL")
    seller = factory.user(invoice_registration_no="T1234567890123")
    buyers = [factory.user(invoice_registration_no=f"T98765432109{n}{n}") for n in range(2)]

    def as_user(member, work):
        def run(s):
            return work(s, s.get(User, member.id))

        return in_session(app, run)

    class Ledger(RuleBasedStateMachine):
        orders_made = Bundle("orders")

        def __init__(self):
            super().__init__()
            self.listing_id = factory.listing(seller, "soil_offer", quantity=10, price_per_unit=800)

        def attempt(self, member, work):
            """A refusal (409/422: does not fit, wrong state) is an answer, not a failure;
            it must leave nothing behind, which the invariants check."""
            try:
                return as_user(member, work)
            except DomainError:
                return None

        @rule(quantity=QUANTITY)
        def edit(self, quantity):
            def work(s, user):
                listing = s.get(Listing, self.listing_id)
                return catalog.update_listing(s, user, listing, {"quantity": quantity})

            taken_before = self.totals()[1] + self.totals()[2]
            changed = self.attempt(seller, work)
            assert (changed is not None) == (quantity >= taken_before)

        @rule(target=orders_made, buyer=st.sampled_from([0, 1]), quantity=QUANTITY)
        def request(self, buyer, quantity):
            made = self.attempt(
                buyers[buyer],
                lambda s, user: requests.request_order(
                    s, user, self.listing_id, {"quantity": str(quantity)}
                ).id,
            )
            return made or 0

        def move(self, member, order_id, action, **data):
            return self.attempt(
                member, lambda s, user: transitions.perform(s, user, order_id, action, data)
            )

        @rule(order_id=orders_made)
        def accept(self, order_id):
            if order_id:
                self.move(seller, order_id, "accept")

        @rule(order_id=orders_made)
        def decline(self, order_id):
            if order_id:
                self.move(seller, order_id, "decline")

        @rule(order_id=orders_made, by_seller=st.booleans())
        def cancel(self, order_id, by_seller):
            if order_id:
                self.move(seller if by_seller else self.buyer_of(order_id), order_id, "cancel")

        @rule(order_id=orders_made, quantity=QUANTITY)
        def deliver(self, order_id, quantity):
            if not order_id:
                return
            self.move(seller, order_id, "issue_invoice")
            self.move(seller, order_id, "mark_paid")
            self.attempt(
                seller,
                lambda s, user: deliveries.record_delivery(
                    s, user, order_id, {"quantity": str(quantity)}
                ),
            )

        @rule(order_id=orders_made)
        def close_short(self, order_id):
            if order_id:
                self.move(seller, order_id, "close_short", note="short")

        def buyer_of(self, order_id):
            buyer_org = in_session(app, lambda s: s.get(Order, order_id).buyer_org_id, commit=False)
            return next(b for b in buyers if b.org_id == buyer_org)

        def totals(self):
            def read(s):
                listing = s.get(Listing, self.listing_id)
                return (
                    Decimal(listing.open_quantity),
                    Decimal(listing.committed_quantity),
                    Decimal(listing.delivered_quantity),
                    Decimal(listing.quantity),
                    listing.status,
                    ledger.totals(s, self.listing_id),
                    self.held_by_orders(s),
                )

            return in_session(app, read, commit=False)

        def held_by_orders(self, s):
            """What the live orders still hold: ordered less delivered, on orders that hold
            quantity and were not closed short; nothing on the others."""
            held = Decimal(0)
            for order in s.scalars(select(Order).where(Order.listing_id == self.listing_id)):
                if order.status in (OrderStatus.delivered, OrderStatus.completed):
                    continue
                if order.status in (
                    OrderStatus.accepted,
                    OrderStatus.invoiced,
                    OrderStatus.paid,
                    OrderStatus.in_delivery,
                ):
                    held += Decimal(order.quantity) - order.delivered_quantity
            return held

        @invariant()
        def adds_up(self):
            opened, committed, delivered, quantity, status, rows, held = self.totals()
            assert min(opened, committed, delivered) >= 0
            assert opened + committed + delivered == quantity
            assert rows == (opened, committed, delivered)
            assert committed == held
            assert status == (ListingStatus.open if opened > 0 else ListingStatus.reserved)

    run_state_machine_as_test(
        Ledger,
        settings=settings(
            max_examples=12,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
