"""Write side of orders: request, the state transitions of ``states.TABLE``, deliveries,
payments and provider webhooks.

Services take the session and the acting user, may flush, and never commit; on any
refusal they raise a DomainError and the caller rolls back, so a refused request leaves
no trace (not even a reservation already made in the same transaction).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from flask import current_app
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from huey import crontab
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import payments
from market import tasks
from market.accounts.models import User
from market.catalog import partners
from market.catalog.kinds import SPECS
from market.catalog.models import Listing, ListingStatus
from market.catalog.services import id_in_range
from market.core import audit
from market.db import TOKYO, japan_today, utcnow
from market.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from market.orders import billing, ledger, locks, notify, states
from market.orders.models import (
    Delivery,
    ListingOrderTerms,
    Order,
    OrderPayment,
    OrderRefund,
    OrderStatus,
    OrderTransition,
    ProcessedWebhookEvent,
    TransportArrangement,
)
from payments.invoice import default_credit_note_number

log = logging.getLogger(__name__)
MAX_QUANTITY = Decimal("1e9")
MAX_FEE_YEN = 1_000_000_000
ORDERABLE = ("offer", "want")  # listing families a request can be made on (not stockyards)


class PaymentFailed(DomainError):
    status = 502


# --- reading input ----------------------------------------------------------------------


def parse_quantity(raw: object, field: str = "quantity") -> Decimal:
    if isinstance(raw, bool) or raw is None or (isinstance(raw, str) and not raw.strip()):
        raise Invalid({field: _("Enter a quantity.")})
    try:
        value = Decimal(str(raw).strip().replace(",", ""))
    except InvalidOperation:
        raise Invalid({field: _("Must be a number.")}) from None
    if not value.is_finite() or value <= 0:
        raise Invalid({field: _("Must be more than 0.")})
    if value > MAX_QUANTITY:
        raise Invalid({field: _("Must be at most %(n)s.", n=f"{MAX_QUANTITY:,.0f}")})
    if value != value.quantize(Decimal("0.001")):
        raise Invalid({field: _("Use at most 3 decimal places.")})
    return value.quantize(Decimal("0.001"))


def parse_yen(raw: object, field: str) -> int:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return 0
    if isinstance(raw, bool):
        raise Invalid({field: _("Must be a whole number of yen.")})
    try:
        value = int(str(raw).strip().replace(",", "").replace("¥", ""))
    except ValueError:
        raise Invalid({field: _("Must be a whole number of yen.")}) from None
    if not 0 <= value <= MAX_FEE_YEN:
        raise Invalid({field: _("Must be between 0 and %(n)s yen.", n=f"{MAX_FEE_YEN:,}")})
    return value


def _text(raw: object, field: str, limit: int) -> str:
    text = "" if raw is None else str(raw).strip()
    if len(text) > limit:
        raise Invalid({field: _("Must be at most %(n)s characters.", n=limit)})
    return text


# --- who is who -------------------------------------------------------------------------


def visible_order(session: Session, user: User | None, order_id: int) -> Order:
    """An order the user's organisation is party to; any other order does not exist for them."""
    order = session.get(Order, order_id)
    org_id = getattr(user, "organisation_id", None)
    if order is None or org_id is None or org_id not in order.party_ids():
        raise NotFound(_("No such order."))
    return order


def roles(order: Order, org_id: int | None) -> set[str]:
    """The parties of ``states`` that ``org_id`` plays on this order."""
    if org_id is None:
        return set()
    out: set[str] = set()
    if org_id == order.buyer_org_id:
        out |= {"buyer", "either"}
    if org_id == order.seller_org_id:
        out |= {"seller", "either"}
    if org_id == order.requester_org_id:
        out.add("requester")
    if org_id == order.responder_org_id:
        out.add("responder")
    payer, payee = payer_payee(order)
    if org_id == payer:
        out.add("payer")
    if org_id == payee:
        out.add("payee")
    return out


def payer_payee(order: Order) -> tuple[int, int]:
    payment = order.current_payment
    if payment is not None:
        return payment.payer_org_id, payment.payee_org_id
    return billing.payer_and_payee_ids(order)


def allowed_actions(order: Order, user: User | None) -> list[str]:
    """Buttons to show: actions a person may take now (system actions are never shown)."""
    mine = roles(order, getattr(user, "organisation_id", None))
    out = []
    for action in states.actions_from(order.status):
        rule = states.rule(order.status, action)
        if rule.party in mine and action in states.ACTION_LABELS:
            if action == "mark_paid" and (
                order.current_payment is None or order.current_payment.backend != "invoice"
            ):
                continue
            if action == "resolve" and opened_by_chargeback(order):
                continue
            out.append(action)
    return out


def may(order: Order, user: User | None, action: str) -> bool:
    rule = states.rule(order.status, action)
    return rule is not None and rule.party in roles(order, getattr(user, "organisation_id", None))


def _check(order: Order, action: str, org_id: int | None) -> states.Rule:
    """The rule for ``action`` now, or a refusal that says why."""
    rule = states.rule(order.status, action)
    if rule is None:
        raise Conflict(
            _(
                "This order is %(status)s, so it cannot be moved with “%(action)s”.",
                status=str(states.STATUS_LABELS[order.status]),
                action=_action_name(action),
            )
        )
    if rule.party != "system" and rule.party not in roles(order, org_id):
        raise Forbidden(
            _("Only %(party)s may do this.", party=str(states.PARTY_LABELS[rule.party]))
        )
    if action == "resolve" and opened_by_chargeback(order):
        raise Conflict(
            _(
                "A card chargeback ends when the card network decides; the order moves on by itself then."
            )
        )
    return rule


def opened_by_chargeback(order: Order) -> bool:
    """Whether the order's open dispute is a card chargeback (not a party's dispute)."""
    if order.status != OrderStatus.disputed:
        return False
    opened = [
        t
        for t in order.transitions
        if t.to_status == OrderStatus.disputed.value and t.from_status != OrderStatus.disputed.value
    ]
    return bool(opened) and opened[-1].action == "chargeback"


def _action_name(action: str) -> str:
    label = states.REFUND_LABEL if action == "refund" else states.ACTION_LABELS.get(action)
    return str(label) if label else action.replace("_", " ")


def _move(session: Session, order: Order, action: str, user: User | None, note: str = "") -> None:
    """Apply one transition of the table and record who did it and when."""
    rule = _check(order, action, user.organisation_id if user is not None else None)
    before = order.status
    if rule.to == states.PREVIOUS:
        target = OrderStatus(order.status_before_dispute or OrderStatus.paid)
        order.status_before_dispute = None
    elif rule.to == states.SAME:
        target = before
    else:
        target = OrderStatus(rule.to)
    if target == OrderStatus.disputed and before != OrderStatus.disputed:
        order.status_before_dispute = before.value
    order.status = target
    session.add(
        OrderTransition(
            order=order,
            action=action,
            from_status=before.value,
            to_status=target.value,
            actor_user_id=user.id if user is not None else None,
            actor_org_id=user.organisation_id if user is not None else None,
            note=note,
        )
    )
    session.flush()
    notify.order_moved(
        session, order, action, user.organisation_id if user is not None else None, note
    )


# --- requesting -------------------------------------------------------------------------


def _sides(listing: Listing, requester_org_id: int) -> tuple[int, int]:
    """(buyer, seller): on an offer the requester buys; on a want the requester supplies."""
    if SPECS[listing.kind].side == "want":
        return listing.organisation_id, requester_org_id
    return requester_org_id, listing.organisation_id


def orderable(listing: Listing) -> bool:
    """Whether requests can be made on the listing now (open offers and wants)."""
    return listing.status == ListingStatus.open and SPECS[listing.kind].side in ORDERABLE


def instant_accept(session: Session, listing_id: int) -> bool:
    terms = session.get(ListingOrderTerms, listing_id)
    return bool(terms and terms.instant_accept)


def request_order(
    session: Session, user: User, listing_id: object, data: Mapping[str, object]
) -> Order:
    """A request for a quantity of a listing. Prices come from the listing; any amount in
    ``data`` is ignored. With instant acceptance it is accepted (and reserved) at once, or
    refused with nothing created."""
    if user.organisation_id is None:
        raise Forbidden(_("Join or create an organisation first."))
    # An id is a whole number within the INTEGER column: never a boolean, a float or a text
    # that merely looks like one, and never one the database would refuse to compare.
    listing = (
        session.get(Listing, listing_id)
        if isinstance(listing_id, int)
        and not isinstance(listing_id, bool)
        and id_in_range(listing_id)
        else None
    )
    if (
        listing is None
        or listing.status == ListingStatus.draft
        or not partners.may_take(session, listing, user.organisation_id)
    ):
        raise Invalid({"listing_id": _("No such listing.")})
    if listing.organisation_id == user.organisation_id:
        raise Forbidden(_("You cannot order from your own organisation's listing."))
    if not orderable(listing):
        raise Conflict(_("This listing is not open for requests."), field="listing_id")
    quantity = parse_quantity(data.get("quantity"))
    errors: dict[str, str] = {}
    if quantity > Decimal(listing.open_quantity):
        errors["quantity"] = _(
            "Only %(n)s %(unit)s are still open on this listing.",
            n=_qty(listing.open_quantity),
            unit=listing.unit,
        )
    arrangement_raw = (
        data.get("transport_arrangement") or TransportArrangement.receiver_collects.value
    )
    try:
        arrangement = TransportArrangement(str(arrangement_raw))
    except ValueError:
        errors["transport_arrangement"] = _("Choose how the material is transported.")
        arrangement = TransportArrangement.receiver_collects
    try:
        note = _text(data.get("note"), "note", 2000)
    except Invalid as exc:
        errors.update(exc.errors)
        note = ""
    if errors:
        raise (
            Conflict(errors["quantity"], field="quantity")
            if set(errors) == {"quantity"}
            else Invalid(errors)
        )
    buyer, seller = _sides(listing, user.organisation_id)
    order = Order(
        listing=listing,
        requester_org_id=user.organisation_id,
        responder_org_id=listing.organisation_id,
        buyer_org_id=buyer,
        seller_org_id=seller,
        requested_by_id=user.id,
        description=listing.title[:200],
        quantity=quantity,
        unit=listing.unit,
        unit_price_yen=listing.price_per_unit,
        transport_arrangement=arrangement,
        note=note,
        status=OrderStatus.requested,
    )
    session.add(order)
    session.add(
        OrderTransition(
            order=order,
            action="request",
            from_status=None,
            to_status=OrderStatus.requested.value,
            actor_user_id=user.id,
            actor_org_id=user.organisation_id,
            note=note,
        )
    )
    session.flush()
    if instant_accept(session, listing.id):
        _reserve_or_refuse(session, order)
        _move(
            session,
            order,
            "auto_accept",
            None,
            note=_("Accepted automatically (instant acceptance)."),
        )
    else:
        notify.order_moved(session, order, "request", user.organisation_id, note)
    return order


def order_from_proposal(
    session: Session,
    *,
    listing_id: int,
    counterparty_org_id: int,
    quantity: Decimal,
    proposal_ref: str,
    actor: User | None = None,
    proposal_id: int | None = None,
    also_reserve: tuple[int, ...] = (),
) -> Order:
    """An accepted match proposal becomes an accepted order: both sides already agreed, so
    the quantity is reserved now, on the listing and on each of ``also_reserve`` (the
    receiving side's listing), all through the ledger under this order (or the whole unit
    of work is refused)."""
    listing = session.get(Listing, listing_id)
    if listing is None:
        raise NotFound(_("No such listing."))
    _refuse_outside_partners(session, listing, counterparty_org_id)
    buyer, seller = _sides(listing, counterparty_org_id)
    order = Order(
        listing=listing,
        requester_org_id=counterparty_org_id,
        responder_org_id=listing.organisation_id,
        buyer_org_id=buyer,
        seller_org_id=seller,
        requested_by_id=actor.id if actor else None,
        description=listing.title[:200],
        quantity=parse_quantity(quantity),
        unit=listing.unit,
        unit_price_yen=listing.price_per_unit,
        source="proposal",
        proposal_ref=proposal_ref[:64],
        status=OrderStatus.requested,
    )
    session.add(order)
    session.add(
        OrderTransition(
            order=order,
            action="request",
            from_status=None,
            to_status=OrderStatus.requested.value,
            note=f"proposal {proposal_ref}",
        )
    )
    session.flush()
    for lid in sorted({listing.id, *also_reserve}):  # listings are locked in id order
        _reserve_or_refuse(session, order, listing_id=lid, proposal_id=proposal_id)
    _move(session, order, "auto_accept", None, note=_("Accepted match proposal."))
    return order


def _refuse_outside_partners(session: Session, listing: Listing, org_id: int) -> None:
    """An item in its partner-only period goes to the municipality's partners only, even
    when a request or a proposal reached it some other way (made before the period was
    set, or sent by hand)."""
    if not partners.may_take(session, listing, org_id):
        raise Forbidden(
            _(
                "Until %(date)s this item is for the municipality's partner operators only.",
                date=format_date(listing.partner_only_until),
            )
        )


def _reserve_or_refuse(
    session: Session,
    order: Order,
    listing_id: int | None = None,
    proposal_id: int | None = None,
    actor_org_id: int | None = None,
) -> None:
    """Commit the order's quantity on its listing (or, for a deal, on ``listing_id``, the
    other side's listing) through the ledger, or refuse with what is still open."""
    listing_id = listing_id or order.listing_id
    if not ledger.reserve(
        session,
        listing_id,
        Decimal(order.quantity),
        order_id=order.id,
        proposal_id=proposal_id,
        actor_org_id=actor_org_id,
    ):
        listing = session.get(Listing, listing_id)
        if listing.status != ListingStatus.open and Decimal(listing.open_quantity) > 0:
            raise Conflict(_("This listing is not open for orders any more."), field="quantity")
        raise Conflict(
            _(
                "Only %(n)s %(unit)s are still open on this listing, not enough for %(q)s.",
                n=_qty(listing.open_quantity),
                unit=listing.unit,
                q=_qty(order.quantity),
            ),
            field="quantity",
        )


def _qty(value) -> str:
    number = Decimal(value)
    return f"{number:,.0f}" if number == number.to_integral_value() else f"{number.normalize():,f}"


def set_instant_accept(
    session: Session, user: User, listing: Listing, enabled: bool
) -> ListingOrderTerms:
    if user.organisation_id != listing.organisation_id:
        raise Forbidden(_("Only members of the listing's organisation may change it."))
    terms = session.get(ListingOrderTerms, listing.id) or ListingOrderTerms(listing_id=listing.id)
    terms.instant_accept = enabled
    session.add(terms)
    session.flush()
    return terms


# --- transitions ------------------------------------------------------------------------


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
    _check(order, action, user.organisation_id)  # early, readable refusal
    note = _text(data.get("note"), "note", 2000)
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
        _refuse_outside_partners(session, order.listing, order.requester_org_id)
        _reserve_or_refuse(session, order, actor_org_id=user.organisation_id)
    elif releases:
        ledger.lock_listings(session, ledger.listings_of(session, order))
    locked = locks.lock_order(session, order.id)
    if locked is None or locked.status != seen:
        raise Conflict(_("The order changed meanwhile; reload the page and try again."))
    _check(locked, action, user.organisation_id)
    if releases:
        # Under the listing and order locks: a second cancel finds the order cancelled.
        ledger.release_order(session, locked, user.organisation_id, note=action)
    if action == "close_short":
        note = _(
            "Closed at %(received)s of %(ordered)s %(unit)s received: %(note)s",
            received=_qty(locked.delivered_quantity),
            ordered=_qty(locked.quantity),
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
    _move(session, locked, action, user, note)
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
        _move(
            session, order, "waive_payment", None, note=_("Nothing to pay: the order nets to ¥0.")
        )
        return order
    except payments.InvalidPaymentInput as exc:
        raise Invalid({exc.field: exc.reason}) from exc
    except payments.PaymentError as exc:
        raise PaymentFailed(exc.message) from exc
    order.payments.append(billing.to_row(payment))
    session.flush()
    _move(session, order, "issue_invoice", user)
    return order


def _mark_paid(session: Session, order: Order) -> None:
    row = order.current_payment
    if row is None or row.backend != "invoice":
        raise Conflict(_("Card payments are confirmed by the payment provider, not by hand."))
    gw = billing.gateway()
    if not isinstance(gw, payments.InvoiceGateway):
        gw = payments.InvoiceGateway(
            billing.fee_rate()
        )  # an invoice issued before a backend switch
    try:
        paid = gw.mark_paid(billing.from_row(row))
    except payments.PaymentError as exc:
        raise Conflict(exc.message) from exc
    billing.to_row(paid, row)


def record_delivery(
    session: Session, user: User, order_id: int, data: Mapping[str, object]
) -> Delivery:
    """A partial or final delivery; the order is delivered once the quantities add up."""
    order = visible_order(session, user, order_id)
    _check(order, "record_delivery", user.organisation_id)
    errors: dict[str, str] = {}
    quantity = None
    try:
        quantity = parse_quantity(data.get("quantity"))
        if quantity > order.remaining_quantity:
            errors["quantity"] = _(
                "Only %(n)s %(unit)s remain to be delivered on this order.",
                n=_qty(order.remaining_quantity),
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
        reference = _text(data.get("reference"), "reference", 100)
    except Invalid as exc:
        errors.update(exc.errors)
        reference = ""
    if errors:
        raise Invalid(errors)
    ledger.lock_listings(session, ledger.listings_of(session, order))
    locked = locks.lock_order(session, order.id)
    session.refresh(locked, ["deliveries"])
    _check(locked, "record_delivery", user.organisation_id)
    if quantity > locked.remaining_quantity:
        raise Conflict(
            _(
                "Only %(n)s %(unit)s remain to be delivered on this order.",
                n=_qty(locked.remaining_quantity),
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
    _move(
        session,
        locked,
        "record_delivery",
        user,
        note=f"{_qty(quantity)} {locked.unit}" + (f" ({reference})" if reference else ""),
    )
    if locked.remaining_quantity <= 0:
        _move(session, locked, "finish_delivery", None)
    return delivery


# --- refunds ----------------------------------------------------------------------------

MAX_REASON = 500
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
REFUNDABLE_PAYMENT = ("paid", "partially_refunded")


def refundable_yen(order: Order) -> int:
    """What the payee may still return: the paid amount less what went back already."""
    row = order.current_payment
    if row is None or row.status not in REFUNDABLE_PAYMENT:
        return 0
    return row.amount_yen - row.refunded_yen


def may_refund(order: Order, user: User | None) -> bool:
    """Whether to show the refund form: the payee, on a paid order with money left to return."""
    return may(order, user, "refund") and refundable_yen(order) > 0


def _idempotency_key(raw: object) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    key = str(raw).strip()
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise Invalid(
            {"idempotency_key": _("Use at most 64 letters, digits, “-”, “_”, “.” or “:”.")}
        )
    return key


def _refund_amount(raw: object) -> int:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise Invalid({"amount_yen": _("Enter the amount to refund, in yen.")})
    if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
        raise Invalid({"amount_yen": _("Must be a whole number of yen.")})
    text = str(int(raw)) if isinstance(raw, float) else str(raw).strip()
    try:
        value = int(text.replace(",", "").replace("¥", "").replace("￥", ""))
    except ValueError:
        raise Invalid({"amount_yen": _("Must be a whole number of yen.")}) from None
    if value < 1:
        raise Invalid({"amount_yen": _("Must be at least ¥1.")})
    return value


def _refund_input(data: Mapping[str, object], remaining: int) -> tuple[int, str]:
    """Amount and reason, every field error at once."""
    errors: dict[str, str] = {}
    amount = 0
    try:
        amount = _refund_amount(data.get("amount_yen"))
        if amount > remaining:
            errors["amount_yen"] = _(
                "At most %(n)s can still be refunded on this order.",
                n=payments.format_yen(remaining),
            )
    except Invalid as exc:
        errors.update(exc.errors)
    reason = ""
    try:
        reason = _text(data.get("reason"), "reason", MAX_REASON)
        if not reason:
            errors["reason"] = _("Say why the money is returned; the other party sees it.")
    except Invalid as exc:
        errors.update(exc.errors)
    if errors:
        raise Invalid(errors)
    return amount, reason


def _refund_by_key(session: Session, order_id: int, key: str) -> OrderRefund | None:
    return session.scalar(
        select(OrderRefund).where(
            OrderRefund.order_id == order_id, OrderRefund.idempotency_key == key
        )
    )


def _replay(refund: OrderRefund, data: Mapping[str, object]) -> OrderRefund:
    """The refund a repeated key already made, if the repeat asks for the same thing."""
    try:
        amount = _refund_amount(data.get("amount_yen"))
    except Invalid:
        amount = None
    if amount is not None and amount != refund.amount_yen:
        raise Conflict(
            _(
                "This form was already used for a refund of %(n)s; reload the page for a new one.",
                n=payments.format_yen(refund.amount_yen),
            ),
            field="idempotency_key",
        )
    return refund


def _refunded_by_rate(session: Session, payment_id: int) -> dict[int, int]:
    """Tax-inclusive yen per rate that earlier credit notes on the payment returned."""
    out: dict[int, int] = {}
    for note in session.scalars(
        select(OrderRefund.credit_note).where(OrderRefund.payment_id == payment_id)
    ):
        for part in (note or {}).get("per_rate", []):
            rate = int(part["rate_percent"])
            out[rate] = out.get(rate, 0) + int(part["taxable_yen"]) + int(part["tax_yen"])
    return out


def refund_order(
    session: Session,
    user: User,
    order_id: int,
    data: Mapping[str, object],
    idempotency_key: object = None,
    *,
    key_required: bool = False,
) -> tuple[OrderRefund, bool]:
    """The payee returns all or part of a paid order's money, with a reason: through the card
    provider, or recorded with a 返還インボイス for an invoice. Returns (refund, created);
    a repeated ``idempotency_key`` returns the refund it already made, with created False."""
    order = visible_order(session, user, order_id)
    key = _idempotency_key(idempotency_key)
    if key is None and key_required:
        raise Invalid(
            {"idempotency_key": _("The form is incomplete; reload the page and try again.")}
        )
    if (
        key is not None
        and (done := _refund_by_key(session, order.id, key)) is not None
        and done.refunded_by_org_id == user.organisation_id
    ):
        return _replay(done, data), False
    _check(order, "refund", user.organisation_id)  # wrong state 409, wrong party 403
    row = order.current_payment
    if row is None:
        raise Conflict(
            _("Nothing was paid on this order, so there is nothing to refund."), field="amount_yen"
        )
    if row.backend != "invoice" and billing.gateway().name != row.backend:
        raise Conflict(
            _("Card payments can be refunded here only while card payments are enabled."),
            field="amount_yen",
        )
    if refundable_yen(order) <= 0:
        raise Conflict(
            _("Everything paid on this order has been refunded already."), field="amount_yen"
        )
    amount, reason = _refund_input(data, refundable_yen(order))

    # Lock order → payment (the fixed order), then claim the amount in one statement.
    locked = locks.lock_order(session, order.id)
    _check(locked, "refund", user.organisation_id)
    row = locks.lock_payment(session, row.reference)
    if key is not None and (done := _refund_by_key(session, order.id, key)) is not None:
        return _replay(done, data), False  # a repeat that waited for our locks behind the first
    before = billing.from_row(row)
    if not locks.claim_refund(session, row.id, row.refunded_yen, amount):
        if key is not None and (done := _refund_by_key(session, order.id, key)) is not None:
            return _replay(done, data), False  # the double submit that lost the race
        raise Conflict(
            _(
                "Another refund was made on this order meanwhile; reload the page to see what is "
                "left to refund."
            ),
            field="amount_yen",
        )

    sequence = session.scalar(select(func.count()).where(OrderRefund.payment_id == row.id)) + 1
    refunded_by_rate = _refunded_by_rate(session, row.id)
    refund = OrderRefund(
        order=locked,
        payment_id=row.id,
        sequence=sequence,
        backend=row.backend,
        amount_yen=amount,
        reason=reason,
        idempotency_key=key,
        refunded_by_id=user.id,
        refunded_by_org_id=user.organisation_id,
    )
    session.add(refund)
    if row.backend == "invoice":
        gw = billing.gateway()
        if not isinstance(gw, payments.InvoiceGateway):
            gw = payments.InvoiceGateway(
                billing.fee_rate()
            )  # an invoice issued before a backend switch
        try:
            refunded = gw.refund(before, amount)
            if row.invoice:
                note = gw.issue_credit_note(
                    before,
                    amount,
                    number=default_credit_note_number(row.reference, sequence),
                    reason=reason,
                    refunded_before=refunded_by_rate,
                )
                refund.credit_note_number = note.number
                refund.credit_note = billing.credit_note_snapshot(note)
        except payments.PaymentError as exc:
            raise Conflict(exc.message, field="amount_yen") from exc
    _move(
        session,
        locked,
        "refund",
        user,
        note=_(
            "Refunded %(amount)s: %(reason)s", amount=payments.format_yen(amount), reason=reason
        ),
    )
    audit.record(
        session,
        user,
        "order.refund",
        f"order:{locked.id}",
        refund_id=refund.id,
        amount_yen=amount,
        backend=row.backend,
        payment=row.reference,
        credit_note=refund.credit_note_number,
    )
    if row.backend != "invoice":
        # The provider is called last, after every row is written and flushed, so that
        # nothing but the commit can fail once the money has gone back; a retry reuses the
        # provider's idempotency key (keyed by what was refunded before) and refunds nothing twice.
        try:
            refunded = billing.gateway().refund(before, amount)
        except payments.PaymentError as exc:
            raise PaymentFailed(
                _("The refund could not be made: %(reason)s", reason=exc.message)
            ) from exc
    billing.to_row(refunded, row)
    session.flush()
    return refund, True


# --- provider webhooks ------------------------------------------------------------------


class DbProcessedEvents:
    """``payments.ProcessedEvents`` over a unique column, written in the caller's transaction,
    so a rollback forgets the claim together with the payment change."""

    def __init__(self, session: Session):
        self.session = session

    def claim(self, event_id: str) -> bool:
        if self.session.scalar(
            select(ProcessedWebhookEvent.id).where(ProcessedWebhookEvent.event_id == event_id)
        ):
            return False
        try:
            with self.session.begin_nested():
                self.session.add(ProcessedWebhookEvent(event_id=event_id[:255]))
        except IntegrityError:
            return False  # a concurrent delivery of the same event claimed it first
        return True


# Stripe's dispute reasons, in words a payee understands (the code stays beside them, for
# the Stripe dashboard).
DISPUTE_REASONS = {
    "fraudulent": _l("the cardholder says they did not make the payment"),
    "product_not_received": _l("the payer says the goods did not arrive"),
    "product_unacceptable": _l("the payer says the goods were not as described"),
    "duplicate": _l("the payer says they were charged twice"),
    "credit_not_processed": _l("the payer says a promised refund was not made"),
    "unrecognized": _l("the cardholder does not recognise the payment"),
    "general": _l("no reason given"),
}


def _dispute_reason(code: str) -> str:
    label = DISPUTE_REASONS.get(code)
    return f"{label} ({code})" if label else (code or "—")


class WebhookStore:
    """load/save callbacks for ``payments.process_webhook``: rows locked order → payment."""

    def __init__(self, session: Session):
        self.session = session
        self.rows: dict[str, OrderPayment] = {}

    def load(self, reference: str) -> payments.Payment | None:
        row = self.session.scalar(select(OrderPayment).where(OrderPayment.reference == reference))
        if row is None:
            return None
        locks.lock_order(self.session, row.order_id)
        row = locks.lock_payment(self.session, reference)
        self.rows[reference] = row
        return billing.from_row(row)

    def save(self, payment: payments.Payment) -> None:
        row = billing.to_row(payment, self.rows[payment.reference])
        order = self.session.get(Order, row.order_id)
        self.session.flush()
        self._record_outside_refund(order, row)
        current = order.current_payment
        if (
            payment.status is payments.PaymentStatus.PAID
            and order.status == OrderStatus.invoiced
            and current is not None
            and current.id == row.id
        ):
            _move(
                self.session,
                order,
                "payment_received",
                None,
                note=_("Card payment %(ref)s succeeded.", ref=payment.reference),
            )

    def _record_outside_refund(self, order: Order, row: OrderPayment) -> None:
        """Stripe's refunded total above what the refunds table holds: money went back
        without Meguri recording it. Recorded now, so the order's refunds add up."""
        recorded = self.session.scalar(
            select(func.coalesce(func.sum(OrderRefund.amount_yen), 0)).where(
                OrderRefund.payment_id == row.id
            )
        )
        missing = row.refunded_yen - recorded
        if missing <= 0 or states.rule(order.status, "refund_recorded") is None:
            return
        sequence = (
            self.session.scalar(select(func.count()).where(OrderRefund.payment_id == row.id)) + 1
        )
        reason = _("Refunded at Stripe, not through Meguri")
        refund = OrderRefund(
            order=order,
            payment_id=row.id,
            sequence=sequence,
            backend=row.backend,
            amount_yen=missing,
            reason=reason,
            refunded_by_org_id=row.payee_org_id,
        )
        self.session.add(refund)
        _move(
            self.session,
            order,
            "refund_recorded",
            None,
            note=_(
                "Refunded %(amount)s: %(reason)s",
                amount=payments.format_yen(missing),
                reason=reason,
            ),
        )
        audit.record(
            self.session,
            "stripe",
            "order.refund",
            f"order:{order.id}",
            amount_yen=missing,
            backend=row.backend,
            payment=row.reference,
        )

    def dispute(self, payment: payments.Payment, dispute: payments.Dispute) -> None:
        """A chargeback opened: the order goes on hold (disputed) for both parties to see.
        Closed: back to where it was (won: the payment stands; lost: the bank returned the
        money to the payer, shown in the history). Updates in between change nothing."""
        order = self.session.get(Order, self.rows[payment.reference].order_id)
        amount = payments.format_yen(dispute.amount_yen)
        if not dispute.closed:
            if dispute.status not in ("needs_response", "warning_needs_response"):
                return
            due = (
                dt.datetime.fromtimestamp(dispute.respond_by, TOKYO).strftime("%Y-%m-%d %H:%M")
                if dispute.respond_by
                else "—"
            )
            action = "chargeback"
            note = _(
                "The payer's card issuer disputes %(amount)s (reason: %(reason)s). The payee answers with "
                "evidence in the Stripe dashboard before %(due)s JST.",
                amount=amount,
                reason=_dispute_reason(dispute.reason),
                due=due,
            )
        else:
            action = "chargeback_closed" if opened_by_chargeback(order) else "chargeback_decided"
            note = (
                _(
                    "Chargeback lost: the card issuer returned %(amount)s to the payer.",
                    amount=amount,
                )
                if dispute.lost
                else _("Chargeback closed: the payment of %(amount)s stands.", amount=amount)
            )
        if states.rule(order.status, action) is None:
            return  # e.g. a chargeback on an order cancelled meanwhile: nothing to hold
        _move(self.session, order, action, None, note=note)


def payout_onboarding_url(
    session: Session, user: User, *, refresh_url: str, return_url: str
) -> str:
    """Card payouts for the user's organisation (its admins): create its Stripe Express
    account if it has none, store the account id, and return a fresh onboarding link (single
    use, minutes long: redirect to it at once, never store it)."""
    org = user.organisation
    if org is None or not user.is_org_admin:
        raise Forbidden(_("Only your organisation's admins can do this."))
    gw = billing.gateway()
    if not hasattr(gw, "onboarding_link"):
        raise NotFound(_("Card payments are not enabled on this site."))
    try:
        # The account being set up, not only one that already takes charges (billing.party)
        party = dataclasses.replace(billing.party(org), connected_account_id=org.stripe_account_id)
        link = gw.onboarding_link(party, refresh_url=refresh_url, return_url=return_url)
    except payments.PaymentError as exc:
        raise PaymentFailed(exc.message) from exc
    if org.stripe_account_id != link.account_id:
        org.stripe_account_id = link.account_id
        audit.record(
            session, user, "payouts.account", f"organisation:{org.id}", account=link.account_id
        )
    session.flush()
    return link.url


RECONCILE_AFTER = dt.timedelta(minutes=30)
# Older open payments are not re-read every 15 minutes for ever (a payer who never pays):
# Stripe itself retries a webhook for 3 days, so a week covers every one it gave up on.
RECONCILE_WITHIN = dt.timedelta(days=7)


def reconcile_card_payments(session: Session, now: dt.datetime | None = None) -> int:
    """Re-read from Stripe each card payment still open between RECONCILE_AFTER and
    RECONCILE_WITHIN after it was made: a webhook
    that never came (endpoint down longer than Stripe retries, a deploy in between) or a
    cancellation whose commit failed after Stripe had cancelled. Applied like the webhook
    would be (forward only; a payment found paid moves its order on). Returns how many
    payments changed."""
    gw = billing.gateway()
    if not hasattr(gw, "retrieve") or gw.name != "stripe":
        return 0
    now = now or utcnow()
    open_ = [s.value for s in payments.PaymentStatus if s.is_open]
    references = session.scalars(
        select(OrderPayment.reference)
        .where(
            OrderPayment.backend == "stripe",
            OrderPayment.status.in_(open_),
            OrderPayment.created_at < now - RECONCILE_AFTER,
            OrderPayment.created_at >= now - RECONCILE_WITHIN,
        )
        .order_by(OrderPayment.id)
    ).all()
    changed = 0
    for reference in references:
        store = WebhookStore(session)
        current = store.load(reference)  # locks order, then payment
        if current is None or not current.status.is_open:
            continue  # moved meanwhile (a webhook arrived)
        try:
            fresh = gw.retrieve(current)
        except payments.PaymentError as exc:
            log.warning("reconciling %s: %s", reference, exc.message)
            continue
        if fresh != current:
            store.save(fresh)
            changed += 1
    session.flush()
    return changed


@tasks.huey.periodic_task(crontab(minute="*/15"))
def card_payment_reconciliation() -> None:
    tasks.in_session(reconcile_card_payments)


def record_account(session: Session, update: payments.AccountUpdate) -> None:
    """Stripe says whether a payee's connected account can take charges; card payments to
    it use the account from then on (see ``billing.party``)."""
    from market.accounts.models import Organisation

    org = session.scalar(
        select(Organisation)
        .where(Organisation.stripe_account_id == update.account_id)
        .with_for_update()
    )
    if org is not None and org.stripe_charges_enabled != update.charges_enabled:
        org.stripe_charges_enabled = update.charges_enabled
        audit.record(
            session,
            "stripe",
            "payouts.charges_enabled" if update.charges_enabled else "payouts.charges_disabled",
            f"organisation:{org.id}",
            account=update.account_id,
        )
        session.flush()


def handle_webhook(
    session: Session, payload: bytes, signature: str | None
) -> payments.WebhookResponse:
    gw = billing.gateway()
    if not hasattr(gw, "parse_webhook"):
        return payments.WebhookResponse(404, "card payments are not enabled")
    store = WebhookStore(session)
    return payments.process_webhook(
        gw,
        payload,
        signature,
        processed=DbProcessedEvents(session),
        load_payment=store.load,
        save_payment=store.save,
        record_dispute=store.dispute,
        record_account=lambda update: record_account(session, update),
    )


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
    try:
        # The order moves only when the signed webhook arrives, as for a browser payment.
        billing.gateway().confirm(billing.from_row(row))
    except payments.PaymentError as exc:
        raise PaymentFailed(exc.message) from exc
    return order
