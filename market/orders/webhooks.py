"""The payment provider's webhooks: the processed-event store, loading and saving payments
under the order → payment locks, refunds made outside Meguri, chargebacks (``disputes``)
and payee account updates (``payouts``).
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import payments
from market.core import audit
from market.orders import billing, disputes, locks, payouts, states
from market.orders.models import (
    Order,
    OrderPayment,
    OrderRefund,
    OrderStatus,
    ProcessedWebhookEvent,
)
from market.orders.moves import move


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
            move(
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
        move(
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
        order = self.session.get(Order, self.rows[payment.reference].order_id)
        disputes.record_chargeback(self.session, order, dispute)


def handle_webhook(
    session: Session, payload: bytes, signature: str | None
) -> payments.WebhookResponse:
    gw = billing.gateway()
    if not isinstance(gw, payments.ParsesWebhooks):
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
        record_account=lambda update: payouts.record_account(session, update),
    )
