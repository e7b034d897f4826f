"""The quantity ledger: every move of a listing's quantity between open, committed and
delivered is a ``LedgerEntry`` row, written in the same unit of work as the listing's
running totals, and the one path through which orders, deals and listing edits take,
give back, hand over or change a quantity.

Each move is one conditional UPDATE whose WHERE says what must still be true:

    UPDATE listings SET open_quantity = open_quantity - :q,
                        committed_quantity = committed_quantity + :q, status = ...
     WHERE id = :id AND status = 'open' AND open_quantity >= :q

On PostgreSQL the UPDATE takes the row lock; a concurrent one waits, then re-checks its
WHERE against the committed row (READ COMMITTED), so the second of two requests for the
last unit matches no row. On SQLite the database write lock serialises writers the same
way. Behind the WHERE, the listing's CHECK constraints (``catalog.models``) refuse any
row where open + committed + delivered ≠ quantity, a total is negative, or the status
disagrees with what is open: a code path that forgets this module cannot oversell, it
fails. The status of a published listing follows from the ledger (open while something is
open, reserved when nothing is), in the same statement.

Row locks follow ``orders.locks``: listings (by id), then orders.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Protocol

from sqlalchemy import case, func, literal, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from market.catalog import events
from market.catalog.models import LedgerAction, LedgerEntry, Listing, ListingStatus

ZERO = Decimal(0)
PUBLISHED = (ListingStatus.open.value, ListingStatus.reserved.value)
QUANTITY_COLUMNS = ["quantity", "open_quantity", "committed_quantity", "delivered_quantity"]


class Order(Protocol):
    """What the ledger reads of an order (``orders.models.Order``; orders sit above catalog)."""

    id: int
    listing_id: int


def _derived_status(new_open):
    """A published listing is open while something is open, else reserved; other states stay."""
    return case(
        (
            Listing.status.in_(PUBLISHED),
            case((new_open > 0, ListingStatus.open.value), else_=ListingStatus.reserved.value),
        ),
        else_=Listing.status,
    )


def _entry(
    session: Session,
    listing_id: int,
    action: LedgerAction,
    *,
    open_change: Decimal = ZERO,
    committed_change: Decimal = ZERO,
    delivered_change: Decimal = ZERO,
    order_id: int | None = None,
    proposal_id: int | None = None,
    actor_org_id: int | None = None,
    note: str = "",
) -> None:
    session.add(
        LedgerEntry(
            listing_id=listing_id,
            order_id=order_id,
            proposal_id=proposal_id,
            action=action,
            open_change=open_change,
            committed_change=committed_change,
            delivered_change=delivered_change,
            actor_org_id=actor_org_id,
            note=note[:200],
        )
    )


def _changed(session: Session, listing_id: int) -> None:
    """After a move: a loaded listing re-reads its totals and status (the UPDATE bypassed
    the ORM), the search index is told, and open match proposals on the listing are
    checked against it in this same transaction (reduced or expired, parties told)."""
    listing = session.identity_map.get(identity_key(Listing, listing_id))
    if listing is not None:
        session.expire(listing, [*QUANTITY_COLUMNS, "status"])
    events.index_stale(session, [listing_id])  # the search index shows the new open quantity
    events.quantities_changed(session, [listing_id])  # e.g. open proposals re-checked


# --- the moves --------------------------------------------------------------------------


def publish(session: Session, listing: Listing) -> None:
    """A new listing's quantity enters the ledger as open."""
    _entry(
        session,
        listing.id,
        LedgerAction.publish,
        open_change=Decimal(listing.quantity),
        actor_org_id=listing.organisation_id,
    )


def reserve(
    session: Session,
    listing_id: int,
    quantity: Decimal,
    *,
    order_id: int | None,
    proposal_id: int | None = None,
    actor_org_id: int | None = None,
) -> bool:
    """Commit ``quantity`` of an open listing to an order (or a deal); False if it does not
    fit, with nothing changed."""
    quantity = Decimal(quantity)
    remaining = Listing.open_quantity - quantity
    result = session.execute(
        update(Listing)
        .where(
            Listing.id == listing_id,
            Listing.status == ListingStatus.open,
            Listing.open_quantity >= quantity,
        )
        .values(
            open_quantity=remaining,
            committed_quantity=Listing.committed_quantity + quantity,
            status=case((remaining <= 0, ListingStatus.reserved.value), else_=Listing.status),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    _entry(
        session,
        listing_id,
        LedgerAction.reserve,
        open_change=-quantity,
        committed_change=quantity,
        order_id=order_id,
        proposal_id=proposal_id,
        actor_org_id=actor_org_id,
    )
    _changed(session, listing_id)
    return True


def commitments(session: Session, order_id: int) -> dict[int, Decimal]:
    """What the order still holds committed, per listing (from its ledger rows)."""
    rows = session.execute(
        select(LedgerEntry.listing_id, func.sum(LedgerEntry.committed_change))
        .where(LedgerEntry.order_id == order_id)
        .group_by(LedgerEntry.listing_id)
        .order_by(LedgerEntry.listing_id)
    ).all()
    return {lid: Decimal(total) for lid, total in rows if Decimal(total) > 0}


def listings_of(session: Session, order: Order) -> list[int]:
    """Every listing the order moves quantity on, in lock order."""
    held = session.scalars(
        select(LedgerEntry.listing_id).where(LedgerEntry.order_id == order.id).distinct()
    ).all()
    return sorted({order.listing_id, *held})


def lock_listings(session: Session, listing_ids: Iterable[int]) -> None:
    """Lock listing rows (PostgreSQL) in id order before the order row: the fixed order that
    accepting (whose reserving UPDATE locks the listing first) also follows."""
    ids = sorted(set(listing_ids))
    if ids:
        session.execute(
            select(Listing.id).where(Listing.id.in_(ids)).order_by(Listing.id).with_for_update()
        ).all()


def _move_committed(
    session: Session,
    listing_id: int,
    quantity: Decimal,
    action: LedgerAction,
    *,
    order_id: int,
    actor_org_id: int | None,
    note: str = "",
) -> None:
    """committed → open (release) or committed → delivered (deliver), guarded."""
    to_open = quantity if action == LedgerAction.release else ZERO
    to_delivered = quantity if action == LedgerAction.deliver else ZERO
    result = session.execute(
        update(Listing)
        .where(Listing.id == listing_id, Listing.committed_quantity >= quantity)
        .values(
            open_quantity=Listing.open_quantity + to_open,
            committed_quantity=Listing.committed_quantity - quantity,
            delivered_quantity=Listing.delivered_quantity + to_delivered,
            status=_derived_status(Listing.open_quantity + to_open),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # the ledger and the totals disagree: never paper over it
        raise LedgerError(f"listing {listing_id} holds less than {quantity} committed")
    _entry(
        session,
        listing_id,
        action,
        open_change=to_open,
        committed_change=-quantity,
        delivered_change=to_delivered,
        order_id=order_id,
        actor_org_id=actor_org_id,
        note=note,
    )
    _changed(session, listing_id)


class LedgerError(RuntimeError):
    """The listing's totals cannot take a move its ledger rows allow: a bug, not user input."""


def release_order(
    session: Session, order: Order, actor_org_id: int | None = None, note: str = ""
) -> dict[int, Decimal]:
    """Give back everything the order still holds (cancelled; or the rest of a short load
    when it closes). The caller holds the listing and order locks (``lock_listings`` then
    ``orders.locks.lock_order``), so two releases of one order cannot both count it."""
    held = commitments(session, order.id)
    for listing_id, quantity in held.items():
        _move_committed(
            session,
            listing_id,
            quantity,
            LedgerAction.release,
            order_id=order.id,
            actor_org_id=actor_org_id,
            note=note,
        )
    return held


def deliver_order(
    session: Session, order: Order, quantity: Decimal, actor_org_id: int | None = None
) -> None:
    """A load of ``quantity`` was handed over: it moves from committed to delivered on each
    listing the order holds (the supplying listing, and the receiving one of a deal)."""
    for listing_id, held in commitments(session, order.id).items():
        _move_committed(
            session,
            listing_id,
            min(Decimal(quantity), held),
            LedgerAction.deliver,
            order_id=order.id,
            actor_org_id=actor_org_id,
        )


class BelowCommitted(Exception):
    def __init__(self, taken: Decimal):
        super().__init__(taken)
        self.taken = taken


def set_quantity(
    session: Session,
    listing: Listing,
    quantity: Decimal | None,
    status: ListingStatus | None,
    actor_org_id: int | None = None,
) -> None:
    """The owner's edit: a new total quantity and/or a status (draft, or published: then open
    or reserved follows from what is open). What is committed and delivered stays; the
    open quantity is the rest. Raises ``BelowCommitted`` (nothing changed) if the new
    quantity is below what orders and deals already took."""
    row = session.execute(
        select(
            Listing.quantity,
            Listing.committed_quantity,
            Listing.delivered_quantity,
            Listing.status,
        )
        .where(Listing.id == listing.id)
        .with_for_update()
    ).one()
    taken = Decimal(row.committed_quantity) + Decimal(row.delivered_quantity)
    new_quantity = Decimal(row.quantity) if quantity is None else Decimal(quantity)
    if new_quantity < taken:
        raise BelowCommitted(taken)
    new_open = new_quantity - Listing.committed_quantity - Listing.delivered_quantity
    if status is None:
        new_status = _derived_status(new_open)
    elif status in (ListingStatus.open, ListingStatus.reserved):
        new_status = case(
            (new_open > 0, ListingStatus.open.value), else_=ListingStatus.reserved.value
        )
    else:
        new_status = literal(status.value)
    result = session.execute(
        update(Listing)
        .where(
            Listing.id == listing.id,
            Listing.committed_quantity + Listing.delivered_quantity <= new_quantity,
        )
        .values(quantity=new_quantity, open_quantity=new_open, status=new_status)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # taken meanwhile (only where the lock above is not held)
        raise BelowCommitted(taken)
    change = new_quantity - Decimal(row.quantity)
    if change:
        _entry(
            session,
            listing.id,
            LedgerAction.edit,
            open_change=change,
            actor_org_id=actor_org_id,
            note=f"{row.quantity} → {new_quantity}",
        )
    _changed(session, listing.id)


def close(session: Session, listing: Listing, actor_org_id: int | None = None) -> None:
    """The owner closed the listing: recorded with what was open then (orders go on)."""
    _entry(
        session,
        listing.id,
        LedgerAction.close,
        actor_org_id=actor_org_id,
        note=f"open {listing.open_quantity}",
    )
    _changed(session, listing.id)


# --- reading ----------------------------------------------------------------------------


def totals(session: Session, listing_id: int) -> tuple[Decimal, Decimal, Decimal]:
    """(open, committed, delivered) summed from the listing's ledger rows."""
    row = session.execute(
        select(
            func.coalesce(func.sum(LedgerEntry.open_change), 0),
            func.coalesce(func.sum(LedgerEntry.committed_change), 0),
            func.coalesce(func.sum(LedgerEntry.delivered_change), 0),
        ).where(LedgerEntry.listing_id == listing_id)
    ).one()
    return Decimal(row[0]), Decimal(row[1]), Decimal(row[2])
