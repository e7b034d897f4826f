"""Every row lock the orders area takes, in one fixed order: listings, then orders, then
order payments (each by id). Taking them in one order means two requests never wait on
each other in a cycle.

Reservation is a conditional decrement rather than read-then-write:

    UPDATE listings SET open_quantity = open_quantity - :q, status = ...
     WHERE id = :id AND status = 'open' AND open_quantity >= :q

On PostgreSQL the UPDATE takes the row lock; a concurrent one waits, then re-checks its
WHERE against the committed row (READ COMMITTED), so the second of two requests for the
last unit matches no row. On SQLite the database write lock serialises writers the same
way. Either way the check and the write are one statement: the open quantity cannot go
below zero however many requests race, and the loser learns it from ``rowcount``.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from market.catalog.models import Listing, ListingStatus
from market.finder.index import listings_changed
from market.orders.models import Order, OrderPayment


def reserve(session: Session, listing_id: int, quantity: Decimal) -> bool:
    """Take ``quantity`` from an open listing's open quantity; False if it does not fit."""
    remaining = Listing.open_quantity - quantity
    result = session.execute(
        update(Listing)
        .where(
            Listing.id == listing_id,
            Listing.status == ListingStatus.open,
            Listing.open_quantity >= quantity,
        )
        .values(
            open_quantity=remaining,
            status=case((remaining <= 0, ListingStatus.reserved.value), else_=Listing.status),
        )
        .execution_options(synchronize_session=False)
    )
    _expire_listing(session, listing_id)
    return result.rowcount == 1


def release(session: Session, listing_id: int, quantity: Decimal) -> None:
    """Give ``quantity`` back (a cancelled order); a listing reserved by orders reopens."""
    session.execute(
        update(Listing)
        .where(Listing.id == listing_id)
        .values(
            open_quantity=Listing.open_quantity + quantity,
            status=case(
                (Listing.status == ListingStatus.reserved.value, ListingStatus.open.value),
                else_=Listing.status,
            ),
        )
        .execution_options(synchronize_session=False)
    )
    _expire_listing(session, listing_id)


def lock_order(session: Session, order_id: int) -> Order | None:
    """The order row, locked (PostgreSQL) and freshly read, for a state change."""
    return session.scalars(
        select(Order)
        .where(Order.id == order_id)
        .with_for_update(of=Order)
        .execution_options(populate_existing=True)
    ).first()


def lock_payment(session: Session, reference: str) -> OrderPayment | None:
    return session.scalars(
        select(OrderPayment)
        .where(OrderPayment.reference == reference)
        .with_for_update(of=OrderPayment)
        .execution_options(populate_existing=True)
    ).first()


def claim_refund(session: Session, payment_id: int, refunded_before: int, amount_yen: int) -> bool:
    """Add ``amount_yen`` to a paid payment's refunded total if nobody refunded since we read
    ``refunded_before`` and it still fits; False otherwise.

    The same one-statement guard as ``reserve``: of two refunds racing on one payment (a
    double submit, two tabs), the second UPDATE waits for the first to commit and then
    matches no row, so it never reaches the provider and money goes back once.
    """
    result = session.execute(
        update(OrderPayment)
        .where(
            OrderPayment.id == payment_id,
            OrderPayment.refunded_yen == refunded_before,
            OrderPayment.status.in_(("paid", "partially_refunded")),
            OrderPayment.amount_yen - OrderPayment.refunded_yen >= amount_yen,
        )
        .values(refunded_yen=OrderPayment.refunded_yen + amount_yen)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _expire_listing(session: Session, listing_id: int) -> None:
    """The UPDATE bypassed the ORM: make a loaded listing re-read its quantity and status."""
    listing = session.identity_map.get(identity_key(Listing, listing_id))
    if listing is not None:
        session.expire(listing, ["open_quantity", "status"])
    listings_changed(session, [listing_id])  # the search index shows the new open quantity
