"""Recording deliveries: partial or final, the order delivered once the quantities add up."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from market.accounts.models import User
from market.catalog import ledger
from market.db import japan_today
from market.errors import Conflict, Invalid
from market.orders import locks
from market.orders.inputs import parse_quantity, qty, text
from market.orders.models import Delivery
from market.orders.moves import check, move, visible_order


def record_delivery(
    session: Session, user: User, order_id: int, data: Mapping[str, object]
) -> Delivery:
    """A partial or final delivery; the order is delivered once the quantities add up."""
    order = visible_order(session, user, order_id)
    check(order, "record_delivery", user.organisation_id)
    errors: dict[str, str] = {}
    quantity = None
    try:
        quantity = parse_quantity(data.get("quantity"))
        if quantity > order.remaining_quantity:
            errors["quantity"] = _(
                "Only %(n)s %(unit)s remain to be delivered on this order.",
                n=qty(order.remaining_quantity),
                unit=order.unit,
            )
    except Invalid as exc:
        errors.update(exc.errors)
    raw_date = data.get("delivered_on")
    delivered_on = japan_today()
    if raw_date:
        try:
            delivered_on = dt.date.fromisoformat(str(raw_date).strip())
            if delivered_on > japan_today() + dt.timedelta(days=1):
                errors["delivered_on"] = _("A delivery cannot be recorded in the future.")
        except ValueError:
            errors["delivered_on"] = _("Must be a date (YYYY-MM-DD).")
    try:
        reference = text(data.get("reference"), "reference", 100)
    except Invalid as exc:
        errors.update(exc.errors)
        reference = ""
    if errors:
        raise Invalid(errors)
    ledger.lock_listings(session, ledger.listings_of(session, order))
    locked = locks.lock_order(session, order.id)
    session.refresh(locked, ["deliveries"])
    check(locked, "record_delivery", user.organisation_id)
    if quantity > locked.remaining_quantity:
        raise Conflict(
            _(
                "Only %(n)s %(unit)s remain to be delivered on this order.",
                n=qty(locked.remaining_quantity),
                unit=locked.unit,
            ),
            field="quantity",
        )
    delivery = Delivery(
        order=locked,
        quantity=quantity,
        delivered_on=delivered_on,
        reference=reference,
        recorded_by_id=user.id,
        recorded_by_org_id=user.organisation_id,
    )
    session.add(delivery)
    session.flush()
    ledger.deliver_order(session, locked, quantity, user.organisation_id)
    move(
        session,
        locked,
        "record_delivery",
        user,
        note=f"{qty(quantity)} {locked.unit}" + (f" ({reference})" if reference else ""),
    )
    if locked.remaining_quantity <= 0:
        move(session, locked, "finish_delivery", None)
    return delivery
