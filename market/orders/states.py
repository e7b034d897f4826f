"""The order state machine in one table: (state, action) → (next state, who may do it).

Every transition the app performs is looked up here, by services and by the pages that
decide which buttons to show, so "who may move which transition" lives in one place.

Parties:
  responder  the organisation that owns the listing (answers the request)
  requester  the organisation that asked
  buyer / seller   receiving / supplying side of the material
  payer / payee    who owes / receives the money (follows the sign of the total: for
                   surplus soil at a negative price the seller pays the buyer)
  either     buyer or seller
  system     the platform itself (instant acceptance, provider webhooks)
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from market.orders.models import OrderStatus as S

# Marks a transition that returns to the state recorded before the dispute.
PREVIOUS = "previous"
# Marks an action that is recorded in the history but leaves the state as it is (a refund
# moves money, not the material: delivery and completion go on as before).
SAME = "same"


@dataclass(frozen=True)
class Rule:
    to: S | str
    party: str


TABLE: dict[tuple[S, str], Rule] = {
    (S.requested, "accept"): Rule(S.accepted, "responder"),
    (S.requested, "auto_accept"): Rule(S.accepted, "system"),
    (S.requested, "decline"): Rule(S.declined, "responder"),
    (S.requested, "cancel"): Rule(S.cancelled, "requester"),
    (S.accepted, "issue_invoice"): Rule(S.invoiced, "payee"),
    (S.accepted, "waive_payment"): Rule(S.paid, "system"),  # the order nets to ¥0
    (S.accepted, "cancel"): Rule(S.cancelled, "either"),
    (S.invoiced, "mark_paid"): Rule(S.paid, "payee"),  # bank transfer arrived
    (S.invoiced, "payment_received"): Rule(S.paid, "system"),  # card, by webhook
    (S.invoiced, "cancel"): Rule(S.cancelled, "either"),
    (S.paid, "record_delivery"): Rule(S.in_delivery, "either"),
    (S.paid, "dispute"): Rule(S.disputed, "either"),
    (S.in_delivery, "record_delivery"): Rule(S.in_delivery, "either"),
    (S.in_delivery, "finish_delivery"): Rule(S.delivered, "system"),  # full quantity recorded
    # A short load: the parties close the order at what was received; the rest goes back
    # to the listing through the ledger.
    (S.in_delivery, "close_short"): Rule(S.delivered, "either"),
    (S.in_delivery, "dispute"): Rule(S.disputed, "either"),
    (S.delivered, "complete"): Rule(S.completed, "buyer"),  # the receiver confirms
    (S.delivered, "dispute"): Rule(S.disputed, "either"),
    (S.disputed, "resolve"): Rule(PREVIOUS, "either"),
    # Money back from the one who received it, once it was paid (in full or in part).
    (S.paid, "refund"): Rule(SAME, "payee"),
    (S.in_delivery, "refund"): Rule(SAME, "payee"),
    (S.delivered, "refund"): Rule(SAME, "payee"),
    (S.completed, "refund"): Rule(SAME, "payee"),
    (S.disputed, "refund"): Rule(SAME, "payee"),
    # A card refund Stripe reports that Meguri did not make (the dashboard, or one whose
    # commit failed after Stripe had accepted it): recorded by the webhook.
    **{
        (state, "refund_recorded"): Rule(SAME, "system")
        for state in (S.paid, S.in_delivery, S.delivered, S.completed, S.disputed)
    },
    # A card chargeback (the payer's bank disputes the payment, by provider webhook): the
    # order is on hold until the card network decides; only that decision ends it.
    (S.paid, "chargeback"): Rule(S.disputed, "system"),
    (S.in_delivery, "chargeback"): Rule(S.disputed, "system"),
    (S.delivered, "chargeback"): Rule(S.disputed, "system"),
    (S.completed, "chargeback"): Rule(S.disputed, "system"),
    (S.disputed, "chargeback"): Rule(SAME, "system"),  # a party's dispute was already open
    (S.disputed, "chargeback_closed"): Rule(PREVIOUS, "system"),
    (S.disputed, "chargeback_decided"): Rule(SAME, "system"),  # decided; the party's dispute stays
}

# Actions a person presses a button for (the rest are taken by the system, or, like
# "refund", have a form of their own).
ACTION_LABELS = {
    "accept": _l("Accept"),
    "decline": _l("Decline"),
    "cancel": _l("Cancel order"),
    "issue_invoice": _l("Issue invoice / request payment"),
    "mark_paid": _l("Mark as paid (transfer received)"),
    "close_short": _l("Close at the quantity received"),
    "complete": _l("Confirm completion"),
    "dispute": _l("Open a dispute"),
    "resolve": _l("Resolve the dispute"),
}
REFUND_LABEL = _l("Refund")

STATUS_LABELS = {
    S.requested: _l("Requested"),
    S.accepted: _l("Accepted"),
    S.invoiced: _l("Awaiting payment"),
    S.paid: _l("Paid"),
    S.in_delivery: _l("In delivery"),
    S.delivered: _l("Delivered"),
    S.completed: _l("Completed"),
    S.declined: _l("Declined"),
    S.cancelled: _l("Cancelled"),
    S.disputed: _l("Disputed"),
}

PARTY_LABELS = {
    "responder": _l("the listing's organisation"),
    "requester": _l("the organisation that made the request"),
    "buyer": _l("the receiving organisation"),
    "seller": _l("the supplying organisation"),
    "payer": _l("the paying organisation"),
    "payee": _l("the organisation that receives the payment"),
    "either": _l("a party to the order"),
    "system": _l("the platform"),
}

# While an order is in one of these states its quantity is taken from the listing.
HOLDS_QUANTITY = frozenset(
    {S.accepted, S.invoiced, S.paid, S.in_delivery, S.delivered, S.completed, S.disputed}
)
FINAL = frozenset({S.completed, S.declined, S.cancelled})


def rule(status: S, action: str) -> Rule | None:
    return TABLE.get((S(status), action))


def actions_from(status: S) -> list[str]:
    return [action for (state, action) in TABLE if state == status]
