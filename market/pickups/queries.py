"""Read side of pickups: slots and bookings per side, and each operator's show rate."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from market.catalog.models import Listing, ListingKind
from market.orders.models import Order
from market.pickups.models import BookingStatus, PickupBooking, PickupSlot
from market.pickups.services import BOOKABLE_ORDER


@dataclass(frozen=True)
class ShowRate:
    booked: int  # every booking made, whatever became of it
    checked_in: int
    no_show: int

    @property
    def show_rate(self) -> float | None:
        """Per cent of finished pickups the operator turned up to (None before any)."""
        done = self.checked_in + self.no_show
        return 100.0 * self.checked_in / done if done else None


def show_rates(session: Session, municipality_id: int) -> dict[int, ShowRate]:
    """Per operator, over the bookings in this municipality's slots."""
    rows = session.execute(
        select(PickupBooking.operator_org_id, PickupBooking.status, func.count())
        .join(PickupBooking.slot)
        .where(PickupSlot.municipality_org_id == municipality_id)
        .group_by(PickupBooking.operator_org_id, PickupBooking.status)
    ).all()
    counts: dict[int, dict[str, int]] = {}
    for operator_id, status, n in rows:
        counts.setdefault(operator_id, {})[BookingStatus(status).value] = n
    return {
        op: ShowRate(sum(c.values()), c.get("checked_in", 0), c.get("no_show", 0))
        for op, c in counts.items()
    }


def municipality_slots(session: Session, org_id: int, since: dt.date) -> list[PickupSlot]:
    return list(
        session.scalars(
            select(PickupSlot)
            .where(PickupSlot.municipality_org_id == org_id, PickupSlot.slot_date >= since)
            .options(
                joinedload(PickupSlot.bookings).joinedload(PickupBooking.operator),
                joinedload(PickupSlot.listing),
            )
            .order_by(PickupSlot.slot_date, PickupSlot.starts_at, PickupSlot.id)
        ).unique()
    )


def reuse_items(session: Session, org_id: int) -> list[Listing]:
    return list(
        session.scalars(
            select(Listing)
            .where(Listing.organisation_id == org_id, Listing.kind == ListingKind.reuse_item)
            .order_by(Listing.id.desc())
            .limit(200)
        )
    )


def orders_to_book(session: Session, operator_id: int) -> list[Order]:
    """The operator's accepted reuse-item orders that have no pickup booked yet."""
    booked = select(PickupBooking.order_id).where(PickupBooking.status != BookingStatus.cancelled)
    return list(
        session.scalars(
            select(Order)
            .join(Order.listing)
            .where(
                Order.buyer_org_id == operator_id,
                Listing.kind == ListingKind.reuse_item,
                Order.status.in_(BOOKABLE_ORDER),
                Order.id.not_in(booked),
            )
            .options(joinedload(Order.listing), joinedload(Order.seller))
            .order_by(Order.id)
        )
    )


def open_slots_for(session: Session, order: Order, today: dt.date) -> list[PickupSlot]:
    return list(
        session.scalars(
            select(PickupSlot)
            .where(
                PickupSlot.municipality_org_id == order.seller_org_id,
                PickupSlot.slot_date >= today,
                PickupSlot.booked < PickupSlot.capacity,
                (PickupSlot.listing_id.is_(None)) | (PickupSlot.listing_id == order.listing_id),
            )
            .order_by(PickupSlot.slot_date, PickupSlot.starts_at)
            .limit(30)
        )
    )


def operator_bookings(session: Session, operator_id: int) -> list[PickupBooking]:
    return list(
        session.scalars(
            select(PickupBooking)
            .join(PickupBooking.slot)
            .where(PickupBooking.operator_org_id == operator_id)
            .options(
                joinedload(PickupBooking.slot).joinedload(PickupSlot.municipality),
                joinedload(PickupBooking.order),
            )
            .order_by(
                PickupSlot.slot_date.desc(), PickupSlot.starts_at.desc(), PickupBooking.id.desc()
            )
            .limit(200)
        )
    )
