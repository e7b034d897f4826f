"""Refunds: the payee returns all or part of a paid order's money, through the card provider
or recorded with a 返還インボイス (credit note) for an invoice; idempotent by key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import payments
from market.accounts.models import User
from market.core import audit
from market.errors import Conflict, Invalid
from market.orders import billing, locks
from market.orders.inputs import text
from market.orders.models import Order, OrderPayment, OrderRefund
from market.orders.moves import PaymentFailed, check, may, move, visible_order
from payments.invoice import default_credit_note_number

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
        reason = text(data.get("reason"), "reason", MAX_REASON)
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
    row = _refundable_payment(order, user)
    amount, reason = _refund_input(data, refundable_yen(order))

    # Lock order → payment (the fixed order), then claim the amount in one statement.
    locked = locks.lock_order(session, order.id)
    check(locked, "refund", user.organisation_id)
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
    refunded_by_rate = _refunded_by_rate(session, row.id)  # before the new refund is added
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
    _return_money(session, user, locked, row, refund, before, refunded_by_rate)
    return refund, True


def _refundable_payment(order: Order, user: User) -> OrderPayment:
    """The order's payment, if the user may refund on it now; else why not (409 or 403)."""
    check(order, "refund", user.organisation_id)  # wrong state 409, wrong party 403
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
    return row


def _return_money(
    session: Session,
    user: User,
    order: Order,
    row: OrderPayment,
    refund: OrderRefund,
    before: payments.Payment,
    refunded_by_rate: dict[int, int],
) -> None:
    """Write the refund, its transition and audit record, then return the money: an
    invoice's refund is recorded (with its 返還インボイス) before the move; a card refund is
    asked of the provider last, after every row is written and flushed, so that nothing but
    the commit can fail once the money has gone back; a retry reuses the provider's
    idempotency key (keyed by what was refunded before) and refunds nothing twice."""
    amount = refund.amount_yen
    session.add(refund)
    if row.backend == "invoice":
        refunded = _invoice_refund(row, refund, before, refunded_by_rate)
    move(
        session,
        order,
        "refund",
        user,
        note=_(
            "Refunded %(amount)s: %(reason)s",
            amount=payments.format_yen(amount),
            reason=refund.reason,
        ),
    )
    audit.record(
        session,
        user,
        "order.refund",
        f"order:{order.id}",
        refund_id=refund.id,
        amount_yen=amount,
        backend=row.backend,
        payment=row.reference,
        credit_note=refund.credit_note_number,
    )
    if row.backend != "invoice":
        try:
            refunded = billing.gateway().refund(before, amount)
        except payments.PaymentError as exc:
            raise PaymentFailed(
                _("The refund could not be made: %(reason)s", reason=exc.message)
            ) from exc
    billing.to_row(refunded, row)
    session.flush()


def _invoice_refund(
    row: OrderPayment,
    refund: OrderRefund,
    before: payments.Payment,
    refunded_by_rate: dict[int, int],
) -> payments.Payment:
    """An invoice's refund, recorded, with the 返還インボイス when an invoice was issued."""
    gw = billing.gateway()
    if not isinstance(gw, payments.InvoiceGateway):
        # an invoice issued before a backend switch
        gw = payments.InvoiceGateway(billing.fee_rate())
    try:
        refunded = gw.refund(before, refund.amount_yen)
        if row.invoice:
            note = gw.issue_credit_note(
                before,
                refund.amount_yen,
                number=default_credit_note_number(row.reference, refund.sequence),
                reason=refund.reason,
                refunded_before=refunded_by_rate,
            )
            refund.credit_note_number = note.number
            refund.credit_note = billing.credit_note_snapshot(note)
    except payments.PaymentError as exc:
        raise Conflict(exc.message, field="amount_yen") from exc
    return refunded
