"""Card chargebacks: an order goes on hold while the card network decides, and back after."""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

import payments
from market.db import TOKYO
from market.orders import states
from market.orders.models import Order
from market.orders.moves import move, opened_by_chargeback

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


def record_chargeback(session: Session, order: Order, dispute: payments.Dispute) -> None:
    """A chargeback opened: the order goes on hold (disputed) for both parties to see.
    Closed: back to where it was (won: the payment stands; lost: the bank returned the
    money to the payer, shown in the history). Updates in between change nothing."""
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
    move(session, order, action, None, note=note)
