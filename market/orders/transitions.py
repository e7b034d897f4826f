"""Moving an order by a party's action (accept, cancel, invoice, mark paid, dispute, …): the
locks, the ledger release and the payment calls each action needs.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.orm import Session

import payments
from market.accounts.models import User
from market.catalog import ledger
from market.errors import Conflict, Forbidden, Invalid, NotFound
from market.orders import billing, locks, states
from market.orders.inputs import parse_yen, qty, text
from market.orders.models import Order, OrderStatus
from market.orders.moves import PaymentFailed, check, move, visible_order
from market.orders.requests import refuse_outside_partners, reserve_or_refuse


def perform(
    session: Session,
    user: User,
    order_id: int,
    action: str,
    data: Mapping[str, object] | None = None,
) -> Order:
    """Move an order by ``action`` as ``user``. Refusals name the reason (wrong party or
    wrong state); allowed moves lock listing → order in that order and re-check."""
    data = data or {}
    if action not in states.ACTION_LABELS:
        raise NotFound(_("No such action."))
    order = visible_order(session, user, order_id)
    check(order, action, user.organisation_id)  # early, readable refusal
    note = text(data.get("note"), "note", 2000)
    if action == "dispute" and not note:
        raise Invalid({"note": _("Say what is wrong, so the other party can answer.")})
    if action == "close_short" and not note:
        raise Invalid(
            {"note": _("Say why less was received (e.g. the last load was short), for the record.")}
        )
    fee = (
        parse_yen(data.get("transport_fee_yen"), "transport_fee_yen")
        if action == "accept"
        else None
    )

    seen = order.status
    releases = (action == "cancel" and seen in states.HOLDS_QUANTITY) or action == "close_short"
    if action == "accept":
        refuse_outside_partners(session, order.listing, order.requester_org_id)
        reserve_or_refuse(session, order, actor_org_id=user.organisation_id)
    elif releases:
        ledger.lock_listings(session, ledger.listings_of(session, order))
    locked = locks.lock_order(session, order.id)
    if locked is None or locked.status != seen:
        raise Conflict(_("The order changed meanwhile; reload the page and try again."))
    check(locked, action, user.organisation_id)
    if releases:
        # Under the listing and order locks: a second cancel finds the order cancelled.
        ledger.release_order(session, locked, user.organisation_id, note=action)
    if action == "close_short":
        note = _(
            "Closed at %(received)s of %(ordered)s %(unit)s received: %(note)s",
            received=qty(locked.delivered_quantity),
            ordered=qty(locked.quantity),
            unit=locked.unit,
            note=note,
        )

    if action == "accept" and fee:
        locked.transport_fee_yen = fee
    if action == "cancel":
        _cancel_open_payment(session, locked)
    if action == "issue_invoice":
        return _issue_payment(session, user, locked)
    if action == "mark_paid":
        _mark_paid(session, locked)
    move(session, locked, action, user, note)
    return locked


def _cancel_open_payment(session: Session, order: Order) -> None:
    row = order.current_payment
    if row is None or not payments.PaymentStatus(row.status).is_open:
        return
    try:
        cancelled = billing.gateway().cancel(billing.from_row(row))
    except payments.PaymentError as exc:
        raise PaymentFailed(
            _("The payment could not be withdrawn: %(reason)s", reason=exc.message)
        ) from exc
    billing.to_row(cancelled, row)


def _issue_payment(session: Session, user: User, order: Order) -> Order:
    order.payment_attempt += 1
    try:
        payment = billing.gateway().create_payment(billing.billable(order, order.payment_attempt))
    except payments.NothingToPay:
        order.payment_attempt -= 1
        move(session, order, "waive_payment", None, note=_("Nothing to pay: the order nets to ¥0."))
        return order
    except payments.InvalidPaymentInput as exc:
        raise Invalid({exc.field: exc.reason}) from exc
    except payments.PaymentError as exc:
        raise PaymentFailed(exc.message) from exc
    order.payments.append(billing.to_row(payment))
    session.flush()
    move(session, order, "issue_invoice", user)
    return order


def _mark_paid(session: Session, order: Order) -> None:
    row = order.current_payment
    if row is None or row.backend != "invoice":
        raise Conflict(_("Card payments are confirmed by the payment provider, not by hand."))
    gw = billing.gateway()
    if not isinstance(gw, payments.InvoiceGateway):
        # an invoice issued before a backend switch
        gw = payments.InvoiceGateway(billing.fee_rate())
    try:
        paid = gw.mark_paid(billing.from_row(row))
    except payments.PaymentError as exc:
        raise Conflict(exc.message) from exc
    billing.to_row(paid, row)


def test_mode_card_payment(session: Session, user: User, order_id: int) -> Order:
    """Pay with Stripe's test card, server-side (test keys only): the provider's webhook then
    marks the order paid, exactly as a browser payment would."""
    if not str(current_app.config.get("STRIPE_SECRET_KEY") or "").startswith("sk_test_"):
        raise NotFound(_("No such action."))
    order = visible_order(session, user, order_id)
    row = order.current_payment
    if order.status != OrderStatus.invoiced or row is None or row.backend != "stripe":
        raise Conflict(_("This order has no card payment waiting."))
    if row.payer_org_id != user.organisation_id:
        raise Forbidden(_("Only %(party)s may do this.", party=str(states.PARTY_LABELS["payer"])))
    gw = billing.gateway()
    if not isinstance(gw, payments.ConfirmsTestPayments):
        raise NotFound(_("No such action."))
    try:
        # The order moves only when the signed webhook arrives, as for a browser payment.
        gw.confirm(billing.from_row(row))
    except payments.PaymentError as exc:
        raise PaymentFailed(exc.message) from exc
    return order
