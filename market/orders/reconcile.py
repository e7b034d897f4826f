"""Reconciling card payments whose webhook never came: re-read from the provider, applied as
the webhook would be (every 15 minutes: ``orders/jobs.py``).
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

import payments
from market.db import utcnow
from market.orders import billing
from market.orders.models import OrderPayment
from market.orders.webhooks import WebhookStore

log = logging.getLogger(__name__)
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
    if not isinstance(gw, payments.RetrievesPayments) or gw.name != "stripe":
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
