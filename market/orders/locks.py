"""Every row lock the orders area takes, in one fixed order: listings, then orders, then
order payments (each by id). Taking them in one order means two requests never wait on
each other in a cycle.

Quantities are not locked here but moved by the ledger (``market.catalog.ledger``): one
conditional UPDATE per move, guarded by the listing's CHECK constraints. The same
one-statement guard protects refunds below (``claim_refund``).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from market.orders.models import Order, OrderPayment


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
