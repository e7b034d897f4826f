"""Write side of pickups: open a slot, book it, check in, record no-shows, send reminders.

Services take the session and the acting user, flush, never commit; every refusal is a
DomainError raised before anything is written (or the caller rolls back), so a refused
booking leaves no counter taken and no row behind.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from market import db
from market.accounts.models import OrgKind, User
from market.accounts.services import active_members
from market.catalog.models import Listing, ListingKind, ListingStatus
from market.core import audit
from market.db import row_id, to_japan, utcnow
from market.errors import Conflict, Forbidden, Invalid, NotFound
from market.notifications.services import notify_users
from market.orders import deliveries
from market.orders.models import Order, OrderStatus
from market.orders.states import STATUS_LABELS
from market.pickups.models import BookingStatus, PickupBooking, PickupSlot
from market.text import has_control_characters

MAX_CAPACITY = 200
MAX_DAYS_AHEAD = 366
MAX_WEEKS = 26  # a weekly slot opened for up to half a year at once
# A check-in hands the item over: only on a paid order (see ``check_in``).
HANDOVER_ORDER = (OrderStatus.paid, OrderStatus.in_delivery)
BOOKABLE_ORDER = (
    OrderStatus.accepted,
    OrderStatus.invoiced,
    OrderStatus.paid,
    OrderStatus.in_delivery,
)


def _id(raw: object) -> int | None:
    """A row id from user input, or None (huge numbers would overflow the database's integer)."""
    return row_id(raw)


def slot_start(slot: PickupSlot) -> dt.datetime:
    return dt.datetime.combine(slot.slot_date, slot.starts_at)


def slot_end(slot: PickupSlot) -> dt.datetime:
    return dt.datetime.combine(slot.slot_date, slot.ends_at)


def _municipality_of(user: User) -> int:
    org = user.organisation
    if org is None or org.kind != OrgKind.municipality:
        raise Forbidden(_("Only a municipality can open pickup slots."))
    return org.id


# --- opening slots ----------------------------------------------------------------------


def _parse_time(raw: object, field: str, errors: dict[str, str]) -> dt.time | None:
    text = str(raw or "").strip()
    if not text:
        errors[field] = _("Enter a time (HH:MM).")
        return None
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        errors[field] = _("Must be a time (HH:MM).")
        return None


def open_slots(
    session: Session, user: User, data: Mapping[str, object], now: dt.datetime | None = None
) -> list[PickupSlot]:
    """A pickup slot for one of the municipality's reuse items, or for its pickup point;
    with ``weeks`` > 1, the same slot on the same weekday for that many weeks (each with
    its own check-in code)."""
    org_id = _municipality_of(user)
    now = now or db.japan_now()
    errors: dict[str, str] = {}
    listing = _slot_listing(session, org_id, data, errors)
    point = (
        str(data.get("pickup_point") or "").strip()
        or (listing.pickup_point if listing else "")
        or ""
    )
    if len(point) > 300:
        errors["pickup_point"] = _("Must be at most %(n)s characters.", n=300)
    elif not point and not listing:
        errors["pickup_point"] = _("Enter the pickup point, or choose an item.")
    day = None
    try:
        day = dt.date.fromisoformat(str(data.get("slot_date") or "").strip())
    except ValueError:
        errors["slot_date"] = _("Must be a date (YYYY-MM-DD).")
    starts, ends = (
        _parse_time(data.get("starts_at"), "starts_at", errors),
        _parse_time(data.get("ends_at"), "ends_at", errors),
    )
    if starts and ends and ends <= starts:
        errors["ends_at"] = _("The slot must end after it starts.")
    if day and ends and "ends_at" not in errors:
        if dt.datetime.combine(day, ends) <= now:
            errors["slot_date"] = _("This slot would already be over: choose a later date or time.")
        elif day > now.date() + dt.timedelta(days=MAX_DAYS_AHEAD):
            errors["slot_date"] = _("Slots can be opened at most a year ahead.")
    raw_capacity = str(data.get("capacity") or "").strip()
    capacity = 0
    if not raw_capacity.isdigit() or not 1 <= int(raw_capacity) <= MAX_CAPACITY:
        errors["capacity"] = _("Must be a whole number from 1 to %(n)s.", n=MAX_CAPACITY)
    else:
        capacity = int(raw_capacity)
    raw_weeks = str(data.get("weeks") or "1").strip()
    weeks = int(raw_weeks) if raw_weeks.isdigit() else 0
    if not 1 <= weeks <= MAX_WEEKS:
        errors["weeks"] = _("Must be a whole number from 1 to %(n)s.", n=MAX_WEEKS)
    elif (
        day
        and "slot_date" not in errors
        and day + dt.timedelta(weeks=weeks - 1) > now.date() + dt.timedelta(days=MAX_DAYS_AHEAD)
    ):
        errors["weeks"] = _("Slots can be opened at most a year ahead.")
    if errors:
        raise Invalid(errors)
    slots = [
        PickupSlot(
            municipality_org_id=org_id,
            listing_id=listing.id if listing else None,
            pickup_point=point,
            slot_date=day + dt.timedelta(weeks=week),
            starts_at=starts,
            ends_at=ends,
            capacity=capacity,
            booked=0,
            checkin_code=f"{secrets.randbelow(10**6):06d}",
            created_by_id=user.id,
        )
        for week in range(weeks)
    ]
    session.add_all(slots)
    session.flush()
    return slots


def _slot_listing(
    session: Session, org_id: int, data: Mapping[str, object], errors: dict
) -> Listing | None:
    """The reuse item a slot is for, if one is chosen: the municipality's own, still offered
    (or with orders still to collect)."""
    raw_listing = str(data.get("listing_id") or "").strip()
    if not raw_listing:
        return None
    listing = session.get(Listing, _id(raw_listing)) if _id(raw_listing) else None
    if (
        listing is None
        or listing.organisation_id != org_id
        or listing.kind != ListingKind.reuse_item
    ):
        errors["listing_id"] = _("Choose one of your reuse items.")
    elif listing.status in (
        ListingStatus.draft,
        ListingStatus.closed,
        ListingStatus.expired,
    ) and not _has_open_orders(session, listing):
        errors["listing_id"] = _("This item is not offered any more.")
    return listing


def _has_open_orders(session: Session, listing: Listing) -> bool:
    return (
        session.scalar(
            select(Order.id)
            .where(Order.listing_id == listing.id, Order.status.in_(BOOKABLE_ORDER))
            .limit(1)
        )
        is not None
    )


# --- booking ----------------------------------------------------------------------------


def bookable(slot: PickupSlot, order: Order, now: dt.datetime) -> str | None:
    """Why ``order`` cannot be booked into ``slot`` now, or None when it can."""
    if (
        order.listing.kind != ListingKind.reuse_item
        or order.seller_org_id != slot.municipality_org_id
    ):
        return _("This slot is for another municipality's items.")
    if slot.listing_id is not None and slot.listing_id != order.listing_id:
        return _("This slot is for a different item.")
    if order.status not in BOOKABLE_ORDER:
        return _("Only accepted orders that are not yet delivered can be booked for pickup.")
    if slot_end(slot) <= now:
        return _("This slot is over.")
    if slot.booked >= slot.capacity:
        return _("This slot is full.")
    return None


def book(
    session: Session, user: User, slot_id: object, order_id: object, now: dt.datetime | None = None
) -> PickupBooking:
    now = now or db.japan_now()
    slot = session.get(PickupSlot, _id(slot_id)) if _id(slot_id) else None
    if slot is None:
        raise NotFound(_("No such pickup slot."))
    order = session.get(Order, _id(order_id)) if _id(order_id) else None
    if order is None or order.buyer_org_id != user.organisation_id:
        raise Invalid({"order_id": _("Choose one of your organisation's orders.")})
    reason = bookable(slot, order, now)
    if reason:
        raise Conflict(reason, field="slot_id")
    earlier = session.scalar(select(PickupBooking).where(PickupBooking.order_id == order.id))
    if earlier is not None and earlier.status != BookingStatus.cancelled:
        raise Conflict(_("This order already has a pickup booked."), field="order_id")
    # The check and the increment are one statement: two operators racing for the last
    # place cannot both get it (see market/orders/locks.py for the same pattern).
    taken = session.execute(
        update(PickupSlot)
        .where(PickupSlot.id == slot.id, PickupSlot.booked < PickupSlot.capacity)
        .values(booked=PickupSlot.booked + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        raise Conflict(_("This slot is full."), field="slot_id")
    session.expire(slot, ["booked"])
    if earlier is None:
        booking = PickupBooking(
            slot_id=slot.id,
            order_id=order.id,
            operator_org_id=user.organisation_id,
            booked_by_id=user.id,
            status=BookingStatus.booked,
        )
        session.add(booking)
    else:  # booked again after a cancellation: the order's one booking moves to this slot
        booking = earlier
        audit.record(
            session,
            user,
            "pickup.rebook",
            f"booking:{booking.id}",
            from_slot=booking.slot_id,
            to_slot=slot.id,
        )
        # Conditional like the slot's place: two rebookings of one order at the same moment
        # move it once; the other is refused and its place is given back by the rollback.
        moved = session.execute(
            update(PickupBooking)
            .where(
                PickupBooking.id == booking.id,
                PickupBooking.status == BookingStatus.cancelled,
            )
            .values(
                slot_id=slot.id,
                status=BookingStatus.booked,
                booked_by_id=user.id,
                reminded_at=None,
                cancelled_at=None,
                cancelled_by_id=None,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if moved != 1:
            raise Conflict(_("This order already has a pickup booked."), field="order_id")
        session.expire(booking)
    session.flush()
    return booking


def cancel_booking(
    session: Session, user: User, booking_id: int, now: dt.datetime | None = None
) -> PickupBooking:
    """The operator, or the municipality, cancels a booking before its slot begins: the
    place goes back to the slot and the order can be booked again. The other side is told
    in-app and by mail. After the start it is a check-in or a no-show, never a cancellation."""
    now = now or db.japan_now()
    booking = _booking(session, booking_id)
    slot = booking.slot
    if user.organisation_id not in (slot.municipality_org_id, booking.operator_org_id):
        raise NotFound(_("No such booking."))
    if booking.status != BookingStatus.booked:
        raise Conflict(
            _("This pickup is already recorded as %(status)s.", status=status_label(booking.status))
        )
    if slot_start(slot) <= now:
        raise Conflict(_("The slot has begun: record a check-in or a no-show instead."))
    # One conditional UPDATE each: a cancel racing a check-in (or a second cancel) finds
    # the booking no longer booked and changes nothing.
    moved = session.execute(
        update(PickupBooking)
        .where(PickupBooking.id == booking.id, PickupBooking.status == BookingStatus.booked)
        .values(status=BookingStatus.cancelled, cancelled_at=utcnow(), cancelled_by_id=user.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise Conflict(_("The booking changed meanwhile; reload the page and try again."))
    session.execute(
        update(PickupSlot)
        .where(PickupSlot.id == slot.id, PickupSlot.booked > 0)
        .values(booked=PickupSlot.booked - 1)
        .execution_options(synchronize_session=False)
    )
    session.expire(booking)
    session.expire(slot, ["booked"])
    audit.record(
        session,
        user,
        "pickup.cancel",
        f"booking:{booking.id}",
        slot=slot.id,
        order=booking.order_id,
    )
    other = (
        booking.operator_org_id
        if user.organisation_id == slot.municipality_org_id
        else slot.municipality_org_id
    )
    when = f"{slot.slot_date.isoformat()} {slot.starts_at:%H:%M}–{slot.ends_at:%H:%M}"
    by = user.organisation.name

    def words(_member):
        message = _(
            "Pickup cancelled #%(id)s: %(when)s, %(point)s",
            id=booking.id,
            when=when,
            point=slot.pickup_point,
        )
        body = _(
            "%(when)s %(point)s\nOrder #%(order)s: %(description)s\nCancelled by: %(by)s",
            when=when,
            point=slot.pickup_point,
            order=booking.order_id,
            description=booking.order.description,
            by=by,
        )
        return message, body

    notify_users(session, active_members(session, [other]), words, order_id=booking.order_id)
    session.flush()
    return booking


# --- on the day -------------------------------------------------------------------------


def _booking(session: Session, booking_id: int) -> PickupBooking:
    booking = session.get(PickupBooking, _id(booking_id)) if _id(booking_id) else None
    if booking is None:
        raise NotFound(_("No such booking."))
    return booking


def check_in(
    session: Session,
    user: User,
    booking_id: int,
    code: object = None,
    now: dt.datetime | None = None,
) -> PickupBooking:
    """The municipality checks the operator in at the pickup point, or the operator checks
    itself in with the code shown there. The item is then recorded as delivered."""
    now = now or db.japan_now()
    booking = _booking(session, booking_id)
    slot = booking.slot
    org_id = user.organisation_id
    if org_id == slot.municipality_org_id:
        pass
    elif org_id == booking.operator_org_id:
        if str(code or "").strip() != slot.checkin_code:
            raise Invalid({"code": _("That is not the check-in code shown at the pickup point.")})
    else:
        raise NotFound(_("No such booking."))
    _must_be_booked(booking)
    if now.date() < slot.slot_date:
        raise Conflict(
            _("The pickup is on %(date)s: check in on the day.", date=slot.slot_date.isoformat())
        )
    if booking.order.status not in HANDOVER_ORDER:
        # The payment rule (docs/reports.md): an item is handed over only once it is paid, so
        # a check-in is always a recorded delivery the dashboards count.
        raise Conflict(
            _(
                "The item is handed over once it is paid, and this order is %(status)s. The "
                "municipality marks the payment received (or the card payment completes) first; "
                "then check in.",
                status=str(STATUS_LABELS[booking.order.status]),
            )
        )
    _settle(
        session,
        booking,
        status=BookingStatus.checked_in,
        checked_in_at=utcnow(),
        checked_in_by_id=user.id,
    )
    _record_handover(session, user, booking)
    return booking


def _must_be_booked(booking: PickupBooking) -> None:
    if booking.status != BookingStatus.booked:
        raise Conflict(
            _("This pickup is already recorded as %(status)s.", status=status_label(booking.status))
        )


def _moved_from_booked(session: Session, booking_id: int, **values: object) -> bool:
    """One conditional UPDATE ending a booking (checked in or no-show): of a check-in and a
    no-show at the same moment, or the same check-in sent twice, exactly one changes it."""
    return (
        session.execute(
            update(PickupBooking)
            .where(PickupBooking.id == booking_id, PickupBooking.status == BookingStatus.booked)
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )


def _settle(session: Session, booking: PickupBooking, **values: object) -> None:
    """End a person's booking; the one who finds it no longer booked is refused."""
    moved = _moved_from_booked(session, booking.id, **values)
    session.expire(booking)
    if not moved:
        raise Conflict(
            _("This pickup is already recorded as %(status)s.", status=status_label(booking.status))
        )


def _record_handover(session: Session, user: User, booking: PickupBooking) -> None:
    """Record the rest of the order as delivered, when the order's state allows it."""
    order = booking.order
    if order.remaining_quantity > 0:
        deliveries.record_delivery(
            session,
            user,
            order.id,
            {
                "quantity": str(order.remaining_quantity),
                "delivered_on": booking.slot.slot_date.isoformat(),
                "reference": f"pickup #{booking.id}",
            },
        )


def mark_no_show(
    session: Session,
    user: User,
    booking_id: int,
    now: dt.datetime | None = None,
    reason: object = None,
) -> PickupBooking:
    """The municipality records that the operator did not come, with the reason it gives."""
    now = now or db.japan_now()
    booking = _booking(session, booking_id)
    if user.organisation_id != booking.slot.municipality_org_id:
        if user.organisation_id == booking.operator_org_id:
            raise Forbidden(_("Only the municipality records a no-show."))
        raise NotFound(_("No such booking."))
    _must_be_booked(booking)
    if slot_end(booking.slot) > now:
        raise Conflict(_("A no-show can be recorded only after the slot has ended."))
    text = str(reason or "").strip()
    if not text:
        raise Invalid({"reason": _("Say why: for example, no one came and no one called.")})
    if len(text) > 300 or has_control_characters(text, line=True):
        raise Invalid({"reason": _("The reason must be one line of at most 300 characters.")})
    _settle(
        session,
        booking,
        status=BookingStatus.no_show,
        no_show_at=utcnow(),
        no_show_reason=text,
        no_show_by_id=user.id,
    )
    return booking


def record_no_shows(session: Session, now: dt.datetime | None = None) -> int:
    """Bookings still open when their slot is over become no-shows (the periodic job)."""
    now = now or db.japan_now()
    open_ = session.scalars(
        select(PickupBooking)
        .join(PickupBooking.slot)
        .where(PickupBooking.status == BookingStatus.booked, PickupSlot.slot_date <= now.date())
    ).all()
    n = 0
    for booking in open_:
        if slot_end(booking.slot) <= now:
            # Guarded like a person's no-show: a check-in at the same moment wins or loses
            # whole, never overwritten.
            n += _moved_from_booked(
                session, booking.id, status=BookingStatus.no_show, no_show_at=utcnow()
            )
    session.expire_all()
    return n


# The reminder job runs at 09:00 Japan time (market/pickups/jobs.py) and mails the
# bookings whose slot is the next day.
REMINDER_AT = dt.time(9, 0)


def reminder_due(slot: PickupSlot) -> dt.datetime:
    """When the reminder for a booking of ``slot`` goes out (Japan wall-clock time)."""
    return dt.datetime.combine(slot.slot_date - dt.timedelta(days=1), REMINDER_AT)


def reminder_state(booking: PickupBooking, now: dt.datetime) -> str:
    """The booking's reminder as its reader needs it: sent when, going out when, or why not."""
    if booking.reminded_at is not None:
        sent = to_japan(booking.reminded_at).strftime("%Y-%m-%d %H:%M")
        return _("Reminder sent %(at)s", at=sent)
    due = reminder_due(booking.slot)
    if booking.status != BookingStatus.booked:
        return _("No reminder: the booking is %(status)s.", status=status_label(booking.status))
    if due > now:
        return _("Reminder goes out %(at)s", at=due.strftime("%Y-%m-%d %H:%M"))
    if to_japan(booking.created_at).replace(tzinfo=None) > due:
        return _(
            "No reminder: booked after it went out (%(at)s).", at=due.strftime("%Y-%m-%d %H:%M")
        )
    return _("Reminder due %(at)s, not sent yet.", at=due.strftime("%Y-%m-%d %H:%M"))


def send_reminders(session: Session, now: dt.datetime | None = None) -> int:
    """Tell every member of the operator, in-app and by mail, the day before its pickup
    (once per booking)."""
    now = now or db.japan_now()
    tomorrow = now.date() + dt.timedelta(days=1)
    due = session.scalars(
        select(PickupBooking)
        .join(PickupBooking.slot)
        .where(
            PickupBooking.status == BookingStatus.booked,
            PickupBooking.reminded_at.is_(None),
            PickupSlot.slot_date == tomorrow,
        )
        .order_by(PickupBooking.id)
    ).all()
    for booking in due:
        slot = booking.slot
        when = f"{slot.slot_date.isoformat()} {slot.starts_at:%H:%M}–{slot.ends_at:%H:%M}"

        def words(_member, booking=booking, slot=slot, when=when):
            message = _(
                "Pickup reminder #%(id)s: tomorrow, %(when)s, %(point)s",
                id=booking.id,
                when=when,
                point=slot.pickup_point,
            )
            body = _(
                "%(when)s\n%(point)s\n%(description)s\nYour pickup is tomorrow.",
                when=when,
                point=slot.pickup_point,
                description=booking.order.description,
            )
            return message, body

        notify_users(
            session,
            active_members(session, [booking.operator_org_id]),
            words,
            order_id=booking.order_id,
        )
        booking.reminded_at = utcnow()
    session.flush()
    return len(due)


def status_label(status: BookingStatus) -> str:
    return {
        BookingStatus.booked: _("booked"),
        BookingStatus.checked_in: _("picked up"),
        BookingStatus.no_show: _("no-show"),
        BookingStatus.cancelled: _("cancelled"),
    }[BookingStatus(status)]
