"""Pickups as a municipality and its reuse operators meet them: slots, booking, check-in
at the pickup point (or by code), no-shows, reminders the day before, show rates, and
the municipality's dashboard built from the items picked up."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from market import db as market_db
from market.orders.models import Order, OrderStatus
from market.pickups import services
from market.pickups.models import BookingStatus, PickupBooking, PickupSlot
from tests.conftest import PASSWORD
from tests.web.test_reports import (
    act,
    assert_csv_matches_page,
    html_rows,
    read,
    request_order,
    section,
    section_totals,
    signed_in,
)

REG_CITY = "T1111111111111"


@pytest.fixture
def clock(monkeypatch):
    """Asia/Tokyo wall-clock time the pickup services see: 09:00 today, movable."""
    state = {"now": dt.datetime.combine(market_db.japan_now().date(), dt.time(9, 0))}
    monkeypatch.setattr(market_db, "japan_now", lambda: state["now"])
    return state


@pytest.fixture
def city(app, factory):
    """A municipality with three reuse items, two partner operators and a stranger."""
    member = factory.user("municipality", invoice_registration_no=REG_CITY)
    items = {
        name: factory.listing(
            member,
            "reuse_item",
            title=f"粗大ごみリユース品 {name}",
            reuse_category_code=code,
            price_per_unit=price,
        )
        for name, code, price in (
            ("chair", "chair", 300),
            ("table", "table", 1500),
            ("chest", "chest", 500),
        )
    }
    return member, items, factory.user("reuse_operator"), factory.user("reuse_operator")


def paid_order(app, city_client, operator_client, listing_id) -> int:
    order_id = request_order(operator_client, listing_id, "1")
    act(city_client, order_id, "accept")
    act(city_client, order_id, "issue_invoice")
    act(city_client, order_id, "mark_paid")
    return order_id


def open_slot(client, **form):
    data = {
        "slot_date": market_db.japan_now().date().isoformat(),
        "starts_at": "10:00",
        "ends_at": "12:00",
        "capacity": "3",
        "pickup_point": "江東区清掃事務所 リユース置場",
        **form,
    }
    return client.post("/pickups/slots", data=data)


def slot_ids(app) -> list[int]:
    return read(app, lambda s: list(s.scalars(select(PickupSlot.id).order_by(PickupSlot.id))))


def booking_of(app, order_id) -> PickupBooking:
    return read(
        app, lambda s: s.scalar(select(PickupBooking).where(PickupBooking.order_id == order_id))
    )


def counts(app):
    return read(
        app,
        lambda s: (
            s.scalar(select(func.count()).select_from(PickupBooking)),
            s.scalar(select(func.coalesce(func.sum(PickupSlot.booked), 0))),
        ),
    )


def test_picked_up_items_show_on_the_municipality_dashboard(app, city, clock):
    member, items, x_member, y_member = city
    town, x, y = signed_in(app, member), signed_in(app, x_member), signed_in(app, y_member)
    chair = paid_order(app, town, x, items["chair"])
    table = paid_order(app, town, y, items["table"])
    chest = paid_order(app, town, x, items["chest"])
    assert open_slot(town).status_code == 302
    [slot_id] = slot_ids(app)
    booking_page = x.get("/pickups").get_data(as_text=True)
    assert f'id="book-{chair}"' in booking_page and f'id="book-{chest}"' in booking_page
    for client, order_id in ((x, chair), (y, table), (x, chest)):
        assert (
            client.post(
                f"/pickups/slots/{slot_id}/bookings", data={"order_id": order_id}
            ).status_code
            == 302
        )
    code = read(app, lambda s: s.get(PickupSlot, slot_id).checkin_code)

    # At the pickup point: the city checks X in; Y checks itself in with the code shown there.
    assert town.post(f"/pickups/bookings/{booking_of(app, chair).id}/check-in").status_code == 302
    assert (
        y.post(
            f"/pickups/bookings/{booking_of(app, table).id}/check-in", data={"code": code}
        ).status_code
        == 302
    )
    # X never came for the chest: after the slot the city records the no-show.
    clock["now"] = clock["now"].replace(hour=13)
    chest_booking = booking_of(app, chest).id
    unexplained = town.post(f"/pickups/bookings/{chest_booking}/no-show", data={"reason": " "})
    assert unexplained.status_code == 422 and "Say why" in unexplained.get_data(as_text=True)
    assert booking_of(app, chest).status == BookingStatus.booked
    reason = "Nobody came and the phone went unanswered"
    assert (
        town.post(f"/pickups/bookings/{chest_booking}/no-show", data={"reason": reason}).status_code
        == 302
    )
    assert booking_of(app, chest).status == BookingStatus.no_show
    # Both sides read why.
    for client in (town, x):
        assert f"No-show: {reason}" in client.get("/pickups").get_data(as_text=True)
    # Checking in recorded the handover on the order.
    order_page = y.get(f"/orders/{table}").get_data(as_text=True)
    assert "pickup #" in order_page

    pickups = town.get("/pickups").get_data(as_text=True)
    rates = {r[0]: r for r in html_rows(pickups.split('id="show-rates"', 1)[1])}
    assert rates["Org 2"][1:] == ["2", "1", "1", "50%"]
    assert rates["Org 3"][1:] == ["1", "1", "0", "100%"]

    page = town.get("/dashboard").get_data(as_text=True)
    totals = section_totals(page)
    assert totals["Items reused"] == "2"
    assert totals["Tonnes reused"] == "0.02 t"  # chair 5 kg + table 15 kg (typical weights)
    assert totals["Revenue"] == "¥1,800"
    assert totals["Disposal cost avoided"] == "¥2,000"
    assert (
        totals["Net CO2 avoided"].endswith(" kg")
        and int(totals["Net CO2 avoided"][:-3].replace(",", "")) > 0
    )
    partners = {r[0]: r for r in html_rows(section(page, "by_partner"))}
    assert partners["Org 2"][1] == "1" and partners["Org 2"][-1] == "50%"
    assert partners["Org 3"][3] == "¥1,500" and partners["Org 3"][-1] == "100%"
    for slug in ("items_by_month", "co2_by_month", "revenue_by_month", "by_partner", "orders"):
        assert_csv_matches_page(town, page, "/dashboard", slug)
    assert "<svg" in section(page, "by_partner")


def test_bad_pickup_input_is_refused_with_a_reason_and_nothing_written(app, factory, city, clock):
    member, items, x_member, y_member = city
    town, x, y = signed_in(app, member), signed_in(app, x_member), signed_in(app, y_member)
    chair = paid_order(app, town, x, items["chair"])
    table = paid_order(app, town, y, items["table"])

    past = open_slot(town, starts_at="07:00", ends_at="08:00")
    assert past.status_code == 422 and "already be over" in past.get_data(as_text=True)
    backwards = open_slot(town, starts_at="12:00", ends_at="10:00")
    assert backwards.status_code == 422 and "end after it starts" in backwards.get_data(
        as_text=True
    )
    for bad, field in ((dict(capacity="0"), "capacity"), (dict(slot_date="tomorrow"), "slot_date")):
        refused = open_slot(town, **bad)
        assert refused.status_code == 422
        assert f'id="{field}-error"' in refused.get_data(as_text=True), field
    assert (
        x.post("/pickups/slots", data={"slot_date": "2099-01-01"}).status_code == 403
    )  # not a municipality
    assert slot_ids(app) == []

    assert open_slot(town, capacity="1").status_code == 302
    [slot_id] = slot_ids(app)
    not_ours = x.post(f"/pickups/slots/{slot_id}/bookings", data={"order_id": table})  # Y's order
    assert not_ours.status_code == 422
    assert "Choose one of your organisation&#39;s orders." in not_ours.get_data(as_text=True)
    assert x.post(f"/pickups/slots/{slot_id}/bookings", data={"order_id": chair}).status_code == 302
    full = y.post(f"/pickups/slots/{slot_id}/bookings", data={"order_id": table})
    assert full.status_code == 409 and "This slot is full" in full.get_data(as_text=True)
    again = x.post(f"/pickups/slots/{slot_id}/bookings", data={"order_id": chair})
    assert again.status_code == 409
    assert "This slot is full." in again.get_data(as_text=True)  # its own booking fills it
    assert counts(app) == (1, 1)

    # Another municipality's slot is not for this city's items.
    other_city = signed_in(app, factory.user("municipality"))
    assert open_slot(other_city).status_code == 302
    other_slot = slot_ids(app)[-1]
    wrong = y.post(f"/pickups/slots/{other_slot}/bookings", data={"order_id": table})
    assert wrong.status_code == 409 and "another municipality" in wrong.get_data(as_text=True)
    assert counts(app) == (1, 1)

    booking = booking_of(app, chair).id
    assert (
        y.post(f"/pickups/bookings/{booking}/check-in", data={"code": "000000"}).status_code == 404
    )
    assert other_city.post(f"/pickups/bookings/{booking}/check-in").status_code == 404
    bad_code = x.post(f"/pickups/bookings/{booking}/check-in", data={"code": "nope"})
    assert bad_code.status_code == 422 and "not the check-in code" in bad_code.get_data(
        as_text=True
    )
    early = town.post(f"/pickups/bookings/{booking}/no-show")
    assert early.status_code == 409 and "after the slot has ended" in early.get_data(as_text=True)
    assert x.post(f"/pickups/bookings/{booking}/no-show").status_code == 403
    assert booking_of(app, chair).status == BookingStatus.booked

    # A slot in the past cannot be booked, even when a place is free.
    assert open_slot(town, capacity="2", starts_at="12:00", ends_at="13:00").status_code == 302
    later_slot = slot_ids(app)[-1]
    clock["now"] = clock["now"].replace(hour=14)
    over = y.post(f"/pickups/slots/{later_slot}/bookings", data={"order_id": table})
    assert over.status_code == 409 and "This slot is over" in over.get_data(as_text=True)
    assert counts(app) == (1, 1)


def test_check_in_waits_for_the_day(app, city, clock):
    member, items, x_member, _ = city
    town, x = signed_in(app, member), signed_in(app, x_member)
    chair = paid_order(app, town, x, items["chair"])
    tomorrow = (clock["now"].date() + dt.timedelta(days=1)).isoformat()
    assert open_slot(town, slot_date=tomorrow).status_code == 302
    [slot_id] = slot_ids(app)
    assert x.post(f"/pickups/slots/{slot_id}/bookings", data={"order_id": chair}).status_code == 302
    booking = booking_of(app, chair).id
    for client in (town, x):  # no check-in button before the day
        assert f"/pickups/bookings/{booking}/check-in" not in client.get("/pickups").get_data(
            as_text=True
        )
    early = town.post(f"/pickups/bookings/{booking}/check-in")
    assert early.status_code == 409 and "check in on the day" in early.get_data(as_text=True)


def test_reminder_the_day_before_once_and_no_show_after_the_slot(app, city, clock):
    member, items, x_member, _ = city
    town, x = signed_in(app, member), signed_in(app, x_member)
    chair = paid_order(app, town, x, items["chair"])
    tomorrow = clock["now"].date() + dt.timedelta(days=1)
    assert open_slot(town, slot_date=tomorrow.isoformat()).status_code == 302
    [slot_id] = slot_ids(app)
    assert x.post(f"/pickups/slots/{slot_id}/bookings", data={"order_id": chair}).status_code == 302

    def run(job, now):
        with app.app_context():
            session = app.extensions["meguri.db"].session()
            n = job(session, now)
            session.commit()
            return n

    booking = booking_of(app, chair).id
    due = f"{clock['now'].date().isoformat()} 09:00"

    def reminder_shown(client) -> str:
        page = client.get("/pickups").get_data(as_text=True)
        return page.split(f'id="reminder-{booking}">', 1)[1].split("<", 1)[0]

    clock["now"] = clock["now"].replace(hour=8)
    for client in (town, x):  # the booking says when its reminder goes out
        assert reminder_shown(client) == f"Reminder goes out {due}"
    assert (
        run(services.send_reminders, clock["now"] - dt.timedelta(days=1)) == 0
    )  # two days before: not yet
    assert run(services.send_reminders, clock["now"]) == 1
    for client in (town, x):  # … and that it went
        assert reminder_shown(client).startswith("Reminder sent ")
    assert run(services.send_reminders, clock["now"]) == 0  # once per booking
    mails = [
        m
        for m in app.extensions["meguri.mailer"].sent()
        if m["to"] == x_member.email and "Pickup reminder" in m["subject"]
    ]  # not the order's own mails
    assert len(mails) == 1 and tomorrow.isoformat() in mails[0]["body"]

    assert run(services.record_no_shows, dt.datetime.combine(tomorrow, dt.time(11, 59))) == 0
    assert run(services.record_no_shows, dt.datetime.combine(tomorrow, dt.time(12, 0))) == 1
    assert booking_of(app, chair).status == BookingStatus.no_show
    clock["now"] = dt.datetime.combine(tomorrow, dt.time(13, 0))
    pickups = town.get("/pickups").get_data(as_text=True)
    assert html_rows(pickups.split('id="show-rates"', 1)[1])[0][1:] == ["1", "0", "1", "0%"]


def test_cancel_before_the_slot_frees_the_place_and_the_order_can_be_booked_again(
    app, city, clock, factory
):
    member, items, x_member, y_member = city
    clerk = factory.member(member.org_id, "clerk@example.jp")  # never chose a language
    town, x, y = signed_in(app, member), signed_in(app, x_member), signed_in(app, y_member)
    chair = paid_order(app, town, x, items["chair"])
    table = paid_order(app, town, y, items["table"])
    assert open_slot(town, capacity="1", starts_at="10:00", ends_at="11:00").status_code == 302
    assert open_slot(town, capacity="1", starts_at="14:00", ends_at="15:00").status_code == 302
    first, second = slot_ids(app)
    assert x.post(f"/pickups/slots/{first}/bookings", data={"order_id": chair}).status_code == 302
    booking = booking_of(app, chair).id
    assert f'id="cancel-{booking}"' in x.get("/pickups").get_data(as_text=True)

    # Only the two parties; a stranger is told nothing exists.
    assert y.post(f"/pickups/bookings/{booking}/cancel").status_code == 404
    assert x.post(f"/pickups/bookings/{booking}/cancel").status_code == 302
    cancelled = booking_of(app, chair)
    assert cancelled.status == BookingStatus.cancelled and cancelled.cancelled_by_id == x_member.id
    assert counts(app) == (1, 0)  # the row stays, the place is free
    mails = [
        m
        for m in app.extensions["meguri.mailer"].sent()
        if m["to"] == member.email and "Pickup cancelled" in m["subject"]
    ]
    assert len(mails) == 1 and f"#{chair}" in mails[0]["body"]
    # A colleague who never chose English is told in Japanese (the default), by mail and in-app.
    (told,) = [
        m
        for m in app.extensions["meguri.mailer"].sent()
        if m["to"] == clerk.email and "引取り" in m["subject"]
    ]  # not the order's own mails
    assert told["subject"].startswith(f"【めぐり】引取り予約の取消し #{booking}")
    assert f"注文 #{chair}" in told["body"] and "取消し: " in told["body"]
    clerk_client = app.test_client()
    clerk_client.post("/login", data={"email": clerk.email, "password": PASSWORD})
    bell = clerk_client.get("/notifications").get_data(as_text=True)
    assert f"引取り予約の取消し #{booking}" in bell
    again = x.post(f"/pickups/bookings/{booking}/cancel")
    assert again.status_code == 409 and "already recorded as cancelled" in again.get_data(
        as_text=True
    )
    assert town.post(f"/pickups/bookings/{booking}/check-in").status_code == 409

    # The freed place can be taken by another operator, and the chair is bookable again.
    assert f'id="book-{chair}"' in x.get("/pickups").get_data(as_text=True)
    assert y.post(f"/pickups/slots/{first}/bookings", data={"order_id": table}).status_code == 302
    assert x.post(f"/pickups/slots/{second}/bookings", data={"order_id": chair}).status_code == 302
    moved = booking_of(app, chair)
    assert (moved.id, moved.slot_id, moved.status, moved.cancelled_at) == (
        booking,
        second,
        BookingStatus.booked,
        None,
    )
    assert counts(app) == (2, 2)

    # The municipality may cancel too, but not once the slot has begun.
    clock["now"] = clock["now"].replace(hour=10, minute=30)
    begun = town.post(f"/pickups/bookings/{booking_of(app, table).id}/cancel")
    assert begun.status_code == 409 and "has begun" in begun.get_data(as_text=True)
    assert town.post(f"/pickups/bookings/{booking}/cancel").status_code == 302
    assert booking_of(app, chair).status == BookingStatus.cancelled and counts(app) == (2, 1)
    assert any(
        m["to"] == x_member.email and "Pickup cancelled" in m["subject"]
        for m in app.extensions["meguri.mailer"].sent()
    )


def test_weekly_slots_open_together_each_with_its_own_code(app, city, clock):
    member, items, x_member, _ = city
    town = signed_in(app, member)
    start = clock["now"].date() + dt.timedelta(days=2)
    response = open_slot(town, slot_date=start.isoformat(), weeks="4")
    assert response.status_code == 302
    slots = read(app, lambda s: list(s.scalars(select(PickupSlot).order_by(PickupSlot.slot_date))))
    assert [slot.slot_date for slot in slots] == [start + dt.timedelta(weeks=k) for k in range(4)]
    assert {(slot.starts_at, slot.ends_at, slot.capacity) for slot in slots} == {
        (dt.time(10), dt.time(12), 3)
    }
    assert len({slot.checkin_code for slot in slots}) == 4
    assert "4 weekly pickup slots opened" in town.get("/pickups").get_data(as_text=True)

    for weeks, reason in (("0", "from 1 to 26"), ("27", "from 1 to 26"), ("two", "from 1 to 26")):
        refused = open_slot(town, slot_date=start.isoformat(), weeks=weeks)
        assert refused.status_code == 422 and reason in refused.get_data(as_text=True), weeks
    late = (
        clock["now"].date() + dt.timedelta(days=350)
    ).isoformat()  # the 4th week would pass a year
    refused = open_slot(town, slot_date=late, weeks="4")
    assert refused.status_code == 422 and "at most a year ahead" in refused.get_data(as_text=True)
    assert len(slot_ids(app)) == 4  # nothing written by the refusals


def test_check_in_before_payment_is_refused_and_after_it_counts_on_the_dashboard(app, city, clock):
    member, items, x_member, _ = city
    town, x = signed_in(app, member), signed_in(app, x_member)
    order_id = request_order(x, items["chair"], "1")
    act(town, order_id, "accept")  # accepted, not paid yet
    assert open_slot(town).status_code == 302
    [slot_id] = slot_ids(app)
    assert (
        x.post(f"/pickups/slots/{slot_id}/bookings", data={"order_id": order_id}).status_code == 302
    )
    booking = booking_of(app, order_id).id
    early = town.post(f"/pickups/bookings/{booking}/check-in")
    assert early.status_code == 409
    assert "handed over once it is paid" in early.get_data(as_text=True)
    assert booking_of(app, order_id).status == BookingStatus.booked

    act(town, order_id, "issue_invoice")
    act(town, order_id, "mark_paid")
    assert town.post(f"/pickups/bookings/{booking}/check-in").status_code == 302
    order = read(app, lambda s: s.get(Order, order_id))
    assert order.status == OrderStatus.delivered
    assert section_totals(town.get("/dashboard").get_data(as_text=True))["Items reused"] == "1"
