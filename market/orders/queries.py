"""Read side of orders: an organisation's orders, and the money view both parties see."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from market.accounts.models import Organisation
from market.orders import billing
from market.orders.models import Order, OrderStatus
from payments import Direction, Totals


def orders_for(
    session: Session, org_id: int, status: str | None = None, limit: int = 200
) -> list[Order]:
    stmt = (
        select(Order)
        .where(or_(Order.buyer_org_id == org_id, Order.seller_org_id == org_id))
        .options(selectinload(Order.buyer), selectinload(Order.seller))
        .order_by(Order.updated_at.desc(), Order.id.desc())
        .limit(limit)
    )
    if status in OrderStatus.__members__:
        stmt = stmt.where(Order.status == OrderStatus(status))
    return list(session.scalars(stmt))


@dataclass
class MoneyView:
    totals: Totals
    payer: Organisation
    payee: Organisation
    nothing_due: bool

    @property
    def seller_pays(self) -> bool:
        return self.totals.direction is Direction.SELLER_PAYS


def money(session: Session, order: Order) -> MoneyView:
    """Unit price, quantity, transport, subtotal, tax per rate, fee, total and payer → payee,
    computed by the payments package from the order's own rows."""
    totals = billing.quote(order)
    payment = order.current_payment
    if payment is not None:
        payer_id, payee_id = payment.payer_org_id, payment.payee_org_id
    else:
        payer_id, payee_id = billing.payer_and_payee_ids(order, totals)
    return MoneyView(
        totals=totals,
        payer=session.get(Organisation, payer_id),
        payee=session.get(Organisation, payee_id),
        nothing_due=totals.direction is Direction.NOTHING_DUE,
    )
