"""The 受領書: the receiving site issues a receipt for its confirmed loads not yet on one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from market.accounts.models import Organisation, User
from market.errors import Conflict, Invalid
from market.trace import queries
from market.trace.inputs import _text
from market.trace.models import (
    Receipt,
    ReceiptTicket,
    TicketStatus,
    TransferTicket,
)
from market.trace.services import (
    visible_order,
)

# --- 受領書 -----------------------------------------------------------------------------


def unreceipted(session: Session, order_id: int, org_id: int) -> list[TransferTicket]:
    covered = select(ReceiptTicket.ticket_id)
    return list(
        session.scalars(
            select(TransferTicket)
            .where(
                TransferTicket.order_id == order_id,
                TransferTicket.receiving_org_id == org_id,
                TransferTicket.status == TicketStatus.confirmed,
                TransferTicket.id.not_in(covered),
            )
            .order_by(TransferTicket.seq)
        ).all()
    )


def issue_receipts(
    session: Session, user: User, order_id: int, data: Mapping[str, object]
) -> list[Receipt]:
    """The receiving site issues a 受領書 for its confirmed loads not yet on one (one per
    destination site)."""
    order = visible_order(session, user, order_id)
    errors: dict[str, str] = {}
    manager = _text(data, "destination_manager", 100, errors, required=True)
    if errors:
        raise Invalid(errors)
    tickets = unreceipted(session, order.id, user.organisation_id)
    if not tickets:
        raise Conflict(
            _("There are no confirmed loads at your site without a receipt."), field="receipt"
        )
    groups: dict[tuple, list[TransferTicket]] = {}
    for t in tickets:
        groups.setdefault(
            (t.destination_name, t.destination_address, t.destination_listing_id), []
        ).append(t)
    count = session.scalar(select(func.count(Receipt.id)).where(Receipt.order_id == order.id)) or 0
    receipts = []
    org = session.get(Organisation, user.organisation_id)
    for n, group in enumerate(groups.values(), start=count + 1):
        content = queries.receipt_content(session, order, org, manager, group)
        receipt = Receipt(
            number=f"R{order.id:05d}-{n:02d}",
            order_id=order.id,
            receiving_org_id=org.id,
            destination_manager=manager,
            volume=Decimal(content["volume"]),
            unit=order.unit,
            completed_on=dt.date.fromisoformat(content["completed_on"]),
            matches_plan=content["matches_plan"],
            content=content,
            issued_by_id=user.id,
        )
        session.add(receipt)
        session.flush()
        for t in group:
            session.add(ReceiptTicket(receipt_id=receipt.id, ticket_id=t.id))
        receipts.append(receipt)
    session.flush()
    return receipts
