"""Tell the other party when an order moves: an in-app notification for each active
member of the organisation, and a mail for those who keep order mails on.

Called with every recorded transition, inside the transaction that records it, so a
refused or rolled-back move tells nobody and a committed one is never left untold (mail
goes through the job queue after the commit, see ``market.mail.send_later``). Each
member reads it in their own language."""

from __future__ import annotations

from flask import current_app, has_request_context, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from market.accounts.models import Organisation, User
from market.accounts.services import active_members
from market.notifications.services import notify_users
from market.orders import states
from market.orders.models import Order

# What happened, for the party that did not do it. Actions missing here tell nobody.
EVENTS = {
    "request": _l("new request"),
    "accept": _l("request accepted"),
    "auto_accept": _l("accepted automatically"),
    "decline": _l("request declined"),
    "cancel": _l("order cancelled"),
    "issue_invoice": _l("invoice issued, payment requested"),
    "waive_payment": _l("nothing to pay, ready for delivery"),
    "mark_paid": _l("payment received"),
    "payment_received": _l("payment received"),
    "record_delivery": _l("delivery recorded"),
    "finish_delivery": _l("fully delivered, awaiting the receiver's confirmation"),
    "complete": _l("order completed"),
    "dispute": _l("dispute opened"),
    "resolve": _l("dispute resolved"),
    "refund": _l("refund issued"),
    "refund_recorded": _l("refund issued"),
    "chargeback": _l("card payment disputed by the payer's card issuer: on hold"),
    "chargeback_closed": _l("card chargeback decided"),
    "chargeback_decided": _l("card chargeback decided"),
}


def recipients(session: Session, order: Order, actor_org_id: int | None) -> list[User]:
    """Active members of the order's organisations, except the one that acted."""
    return active_members(session, {order.buyer_org_id, order.seller_org_id} - {actor_org_id})


def _order_link(order: Order) -> str:
    """Absolute: from the request, or MEGURI_PUBLIC_URL in jobs (e.g. a payment found by the
    reconciliation); the bare path only when neither is known."""
    if has_request_context():
        return url_for("orders.detail", order_id=order.id, _external=True)
    return f"{(current_app.config.get('PUBLIC_URL') or '').rstrip('/')}/orders/{order.id}"


def order_moved(
    session: Session, order: Order, action: str, actor_org_id: int | None, note: str = ""
) -> int:
    """Notify the other party of ``action`` on ``order``; returns how many were told."""
    event = EVENTS.get(action)
    if event is None:
        return 0
    users = recipients(session, order, actor_org_id)
    if not users:
        return 0
    actor = session.get(Organisation, actor_org_id) if actor_org_id is not None else None
    link = _order_link(order)

    def words(user: User) -> tuple[str, str | None]:
        message = _(
            "Order #%(id)s “%(title)s”: %(event)s",
            id=order.id,
            title=order.description,
            event=str(event),
        )
        if actor is not None:
            message += " " + _("(by %(org)s)", org=actor.name)
        if not user.notify_order_mail:
            return message, None
        body = [message]
        if note:
            body += ["", _("Note:"), note]
        body += [
            "",
            _("Status now: %(status)s", status=str(states.STATUS_LABELS[order.status])),
            _("Open the order: %(link)s", link=link),
            "",
            _(
                "You receive this because your organisation is a party to the order. "
                "Turn order mails off on your notifications page."
            ),
        ]
        return message, "\n".join(body)

    notify_users(session, users, words, order_id=order.id)
    return len(users)
