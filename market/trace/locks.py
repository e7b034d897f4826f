"""The one way an issued ticket becomes final: confirmed by the receiving site or voided by
its issuer. Both end in the same conditional UPDATE,

    UPDATE trace_tickets SET status = :new, ... WHERE id = :id AND status = 'issued'

so a confirmation and a void that race can never both win. On PostgreSQL the UPDATE takes
the row lock and the second writer re-checks its WHERE against the committed row (READ
COMMITTED); on SQLite the database write lock serialises writers. The loser matches no row
and learns it from ``rowcount``; its caller rolls back whatever else it wrote.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from market.trace.models import TicketStatus, TransferTicket


def fresh_ticket(session: Session, ticket_id: int, lock: bool = False) -> TransferTicket:
    """The ticket as committed now (not the session's cached copy); locked on PostgreSQL."""
    query = select(TransferTicket).where(TransferTicket.id == ticket_id)
    if lock:
        query = query.with_for_update(of=TransferTicket)
    return session.scalars(query.execution_options(populate_existing=True)).one()


def settle(session: Session, ticket_id: int, status: TicketStatus, **values) -> bool:
    """Move an issued ticket to ``status`` with ``values``; False if it was no longer issued.

    The guard in ``market.trace.guard`` never sees this statement (it bypasses the ORM);
    the WHERE clause keeps the same rule, since only a ticket still ``issued`` is touched.
    """
    if status == TicketStatus.issued:
        raise ValueError("a ticket is settled as confirmed or void, never back to issued")
    result = session.execute(
        update(TransferTicket)
        .where(TransferTicket.id == ticket_id, TransferTicket.status == TicketStatus.issued)
        .values(status=status, **values)
        .execution_options(synchronize_session=False)
    )
    fresh_ticket(session, ticket_id)  # the loaded object shows what the database now holds
    return result.rowcount == 1
