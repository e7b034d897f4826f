"""Append-only and retention rules for trace records, enforced on every ORM flush.

- A locked record (confirmed or void ticket, 確認結果票, 受領書, receipt link, amendment) is never
  updated: corrections are ``Amendment`` rows.
- No trace record is deleted within ``RETENTION_YEARS`` of its creation, and an order,
  listing or organisation that trace records refer to is not deleted in that time either
  (the foreign keys are RESTRICT as a second line of defence).

Bulk ``UPDATE``/``DELETE`` statements bypass the ORM and therefore this guard. The trace
services issue one: ``market.trace.locks.settle``, which changes a ticket only while it is
still ``issued`` (its WHERE says so), that is, only while this guard would allow it too.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import event, exists, inspect, or_, select
from sqlalchemy.orm import Session

from market.accounts.models import Organisation
from market.catalog.models import Listing
from market.db import utcnow
from market.errors import Conflict
from market.orders.models import Order
from market.trace.models import (
    TRACE_RECORDS,
    Amendment,
    ConfirmationSheet,
    Receipt,
    TicketStatus,
    TransferTicket,
)

RETENTION_YEARS = 5


class LockedRecord(Conflict):
    """An attempt to change or delete a record the law asks us to keep as it was."""


def retention_ends(created_at: dt.datetime) -> dt.datetime:
    try:
        return created_at.replace(year=created_at.year + RETENTION_YEARS)
    except ValueError:  # 29 February
        return created_at.replace(year=created_at.year + RETENTION_YEARS, day=28)


def was_locked(obj) -> bool:
    """Whether the record was locked before the changes now pending on it."""
    if isinstance(obj, TransferTicket):
        history = inspect(obj).attrs.status.history
        before = history.deleted[0] if history.deleted else obj.status
        return TicketStatus(before) != TicketStatus.issued
    return bool(getattr(obj, "locked", False))


def _referenced(session: Session, obj) -> bool:
    """Whether trace records still refer to the order, listing or organisation."""
    if isinstance(obj, Order):
        conds = [
            exists().where(TransferTicket.order_id == obj.id),
            exists().where(ConfirmationSheet.order_id == obj.id),
            exists().where(Receipt.order_id == obj.id),
        ]
    elif isinstance(obj, Listing):
        conds = [
            exists().where(
                or_(
                    TransferTicket.origin_listing_id == obj.id,
                    TransferTicket.destination_listing_id == obj.id,
                )
            ),
            exists().where(ConfirmationSheet.destination_listing_id == obj.id),
        ]
    elif isinstance(obj, Organisation):
        conds = [
            exists().where(
                or_(
                    TransferTicket.receiving_org_id == obj.id,
                    TransferTicket.issued_by_org_id == obj.id,
                )
            ),
            exists().where(Receipt.receiving_org_id == obj.id),
            exists().where(Amendment.amended_by_org_id == obj.id),
        ]
    else:
        return False
    with session.no_autoflush:
        return bool(session.scalar(select(or_(*conds))))


@event.listens_for(Session, "before_flush")
def _guard(session: Session, _context, _instances) -> None:
    for obj in session.dirty:
        if isinstance(obj, TRACE_RECORDS) and was_locked(obj) and session.is_modified(obj):
            raise LockedRecord(
                _("This record is locked; record an amendment instead."), field="record"
            )
    for obj in session.deleted:
        if isinstance(obj, TRACE_RECORDS):
            created = obj.created_at or utcnow()
            if utcnow() < retention_ends(created):
                raise LockedRecord(
                    _(
                        "Trace records are kept for %(n)s years; this one until %(date)s.",
                        n=RETENTION_YEARS,
                        date=retention_ends(created).date().isoformat(),
                    ),
                    field="record",
                )
        elif isinstance(obj, Order | Listing | Organisation) and _referenced(session, obj):
            raise LockedRecord(
                _("Trace records refer to this; it is kept for %(n)s years.", n=RETENTION_YEARS),
                field="record",
            )
