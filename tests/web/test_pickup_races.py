"""Pickups decided twice at the same moment, on SQLite and PostgreSQL: both requests read the
booking as still booked (or still cancelled) before either writes, and exactly one changes it.

- the municipality records a no-show while the operator checks in with the code;
- the same check-in sent by the municipality and by the operator at once (one delivery);
- one cancelled booking booked again into two slots at once (one place taken).
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from market.orders.models import Delivery
from market.pickups import services
from market.pickups.models import BookingStatus, PickupSlot
from tests.web import test_pickups
from tests.web.test_pickups import booking_of, open_slot, paid_order, slot_ids
from tests.web.test_reports import read, signed_in

# The pickup tests' fixtures: a movable Japan clock and a municipality with its operators.
clock, city = test_pickups.clock, test_pickups.city
# Each race's requests run in threads of their own, on connections of their own.
pytestmark = pytest.mark.commits


def _race(monkeypatch, target: str, posts) -> list[int]:
    """Run the posts in threads that all pass ``target`` (a check that reads the booking)
    before any of them goes on to write."""
    all_read = threading.Barrier(len(posts), timeout=10)
    name = target.removeprefix("services.")
    module = services
    real = getattr(module, name)

    def slow(*args, **kwargs):
        result = real(*args, **kwargs)
        all_read.wait()
        return result

    monkeypatch.setattr(module, name, slow)
    statuses: list[int] = []

    def run(post):
        statuses.append(post().status_code)

    threads = [threading.Thread(target=run, args=(p,)) for p in posts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(statuses) == len(posts), "a request did not finish"
    return sorted(statuses)


def _deliveries(app, order_id: int) -> int:
    return read(
        app,
        lambda s: s.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.order_id == order_id)
        ),
    )


def _booked_slot(app, city, clock):
    member, items, x_member, _ = city
    town, x = signed_in(app, member), signed_in(app, x_member)
    chair = paid_order(app, town, x, items["chair"])
    assert open_slot(town).status_code == 302
    [slot_id] = slot_ids(app)
    assert x.post(f"/pickups/slots/{slot_id}/bookings", data={"order_id": chair}).status_code == 302
    return town, x, chair, slot_id


def test_no_show_and_check_in_at_once_one_of_them_holds(app, city, clock, monkeypatch):
    town, x, chair, slot_id = _booked_slot(app, city, clock)
    code = read(app, lambda s: s.get(PickupSlot, slot_id).checkin_code)
    booking = booking_of(app, chair).id
    clock["now"] = clock["now"].replace(hour=13)  # the slot (10:00–12:00) is over
    statuses = _race(
        monkeypatch,
        "services._must_be_booked",
        [
            lambda: town.post(
                f"/pickups/bookings/{booking}/no-show", data={"reason": "誰も来ない"}
            ),
            lambda: x.post(f"/pickups/bookings/{booking}/check-in", data={"code": code}),
        ],
    )
    assert statuses == [302, 409]
    status = booking_of(app, chair).status
    assert status in (BookingStatus.no_show, BookingStatus.checked_in)
    # A no-show never carries a handover; a check-in carries exactly one.
    assert _deliveries(app, chair) == (1 if status == BookingStatus.checked_in else 0)


def test_one_check_in_sent_twice_records_one_delivery(app, city, clock, monkeypatch):
    town, x, chair, slot_id = _booked_slot(app, city, clock)
    code = read(app, lambda s: s.get(PickupSlot, slot_id).checkin_code)
    booking = booking_of(app, chair).id
    statuses = _race(
        monkeypatch,
        "services._must_be_booked",
        [
            lambda: town.post(f"/pickups/bookings/{booking}/check-in"),
            lambda: x.post(f"/pickups/bookings/{booking}/check-in", data={"code": code}),
        ],
    )
    assert statuses == [302, 409]
    assert booking_of(app, chair).status == BookingStatus.checked_in
    assert _deliveries(app, chair) == 1


def test_a_cancelled_booking_booked_again_twice_at_once_takes_one_place(
    app, city, clock, monkeypatch
):
    member, items, x_member, _ = city
    town, x = signed_in(app, member), signed_in(app, x_member)
    chair = paid_order(app, town, x, items["chair"])
    tomorrow = (clock["now"].date() + dt.timedelta(days=1)).isoformat()
    for day in (tomorrow, tomorrow, tomorrow):
        assert open_slot(town, slot_date=day).status_code == 302
    first, a, b = slot_ids(app)
    assert x.post(f"/pickups/slots/{first}/bookings", data={"order_id": chair}).status_code == 302
    booking = booking_of(app, chair).id
    assert x.post(f"/pickups/bookings/{booking}/cancel").status_code == 302
    x2 = signed_in(app, x_member)
    statuses = _race(
        monkeypatch,
        "services.bookable",  # both have checked the slot before either reads the booking
        [
            lambda: x.post(f"/pickups/slots/{a}/bookings", data={"order_id": chair}),
            lambda: x2.post(f"/pickups/slots/{b}/bookings", data={"order_id": chair}),
        ],
    )
    assert statuses == [302, 409]
    moved = booking_of(app, chair)
    assert moved.status == BookingStatus.booked and moved.slot_id in (a, b)
    booked = read(app, lambda s: {i: s.get(PickupSlot, i).booked for i in (first, a, b)})
    assert booked == {first: 0, a: int(moved.slot_id == a), b: int(moved.slot_id == b)}
