"""Pickup slots a municipality opens and the bookings reuse operators make in them.

Times are wall-clock Asia/Tokyo (a slot is "10:00–12:00 on 3 March" at the pickup point);
the ``booked`` counter is taken with a conditional UPDATE so a slot never overfills.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Date, DateTime, Enum, ForeignKey, Integer, String, Time
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.accounts.models import Organisation
from market.catalog.models import Listing
from market.db import Base, utcnow
from market.orders.models import Order


class PickupSlot(Base):
    __tablename__ = "pickup_slots"

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    # For one reuse item, or (when null) for any of the municipality's items at the pickup point.
    listing_id: Mapped[int | None] = mapped_column(
        ForeignKey("listings.id", ondelete="CASCADE"), index=True
    )
    pickup_point: Mapped[str] = mapped_column(String(300), default="")
    slot_date: Mapped[dt.date] = mapped_column(Date, index=True)
    starts_at: Mapped[dt.time] = mapped_column(Time)
    ends_at: Mapped[dt.time] = mapped_column(Time)
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)
    # Shown at the pickup point; an operator who types it checks itself in.
    checkin_code: Mapped[str] = mapped_column(String(8))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    municipality: Mapped[Organisation] = relationship()
    listing: Mapped[Listing | None] = relationship()
    bookings: Mapped[list[PickupBooking]] = relationship(
        back_populates="slot", order_by="PickupBooking.id"
    )

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.booked)


class BookingStatus(enum.StrEnum):
    booked = "booked"
    checked_in = "checked_in"
    no_show = "no_show"
    cancelled = "cancelled"  # before the slot began; the place went back to the slot


class PickupBooking(Base):
    """One operator's pickup of one ordered item in a slot (one booking per order: booking
    again after a cancellation moves the same row to the new slot)."""

    __tablename__ = "pickup_bookings"

    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(
        ForeignKey("pickup_slots.id", ondelete="CASCADE"), index=True
    )
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    operator_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    status: Mapped[BookingStatus] = mapped_column(
        Enum(BookingStatus, native_enum=False, length=16), default=BookingStatus.booked, index=True
    )
    booked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reminded_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    checked_in_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    checked_in_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    no_show_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Set when the municipality records the no-show by hand; the hourly job leaves both empty.
    no_show_reason: Mapped[str | None] = mapped_column(String(300))
    no_show_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    slot: Mapped[PickupSlot] = relationship(back_populates="bookings")
    order: Mapped[Order] = relationship()
    operator: Mapped[Organisation] = relationship()
