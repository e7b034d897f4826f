"""Who may do what on an order, and applying one transition of ``states.TABLE``.

Every write module of orders (requests, transitions, deliveries, refunds, webhooks) moves an
order only through ``move``, which checks the rule, records the transition and notifies.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from market.accounts.models import User
from market.errors import Conflict, DomainError, Forbidden, NotFound
from market.orders import billing, notify, states
from market.orders.models import Order, OrderStatus, OrderTransition


class PaymentFailed(DomainError):
    status = 502


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


def check(order: Order, action: str, org_id: int | None) -> states.Rule:
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


def move(session: Session, order: Order, action: str, user: User | None, note: str = "") -> None:
    """Apply one transition of the table and record who did it and when."""
    rule = check(order, action, user.organisation_id if user is not None else None)
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
