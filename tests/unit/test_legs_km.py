"""Per-unit distance over an order's recorded legs (market.reports.impact.legs_km): what
counts, what does not, and when there is nothing to measure."""

from __future__ import annotations

from decimal import Decimal

import pytest

from market.factors.calc import great_circle_km
from market.reports.impact import legs_km
from market.trace.models import TicketStatus, TransferTicket

SITE, YARD, FILL, OTHER = (35.67, 139.82), (35.47, 139.62), (35.51, 139.62), (35.69, 139.98)


def ticket(a, b, quantity, *, transit=False, onward=False, status=TicketStatus.confirmed):
    return TransferTicket(
        origin_lat=a[0] if a else None,
        origin_lon=a[1] if a else None,
        destination_lat=b[0] if b else None,
        destination_lon=b[1] if b else None,
        quantity=Decimal(quantity),
        quantity_received=Decimal(quantity) if status == TicketStatus.confirmed else None,
        transit=transit,
        onward=onward,
        status=status,
    )


def km(a, b) -> float:
    return great_circle_km(*a, *b)


def test_direct_loads_are_averaged_by_quantity_and_void_loads_do_not_count():
    tickets = [
        ticket(SITE, FILL, "30"),
        ticket(SITE, OTHER, "10"),
        ticket(SITE, (34.0, 131.0), "99", status=TicketStatus.void),  # voided: never driven
    ]
    assert legs_km(tickets) == pytest.approx((30 * km(SITE, FILL) + 10 * km(SITE, OTHER)) / 40)


def test_a_load_in_the_yard_goes_on_by_the_plan_until_an_onward_leg_is_recorded():
    into = ticket(SITE, YARD, "20", transit=True)
    direct = ticket(SITE, FILL, "20")
    planned = km(YARD, FILL)
    # Half the loads went into the yard: they add half of the planned onward leg.
    expected = (km(SITE, YARD) + km(SITE, FILL)) / 2 + planned / 2
    assert legs_km([into, direct], planned) == pytest.approx(expected)
    onward = ticket(YARD, OTHER, "20", onward=True)
    expected = (km(SITE, YARD) + km(SITE, FILL)) / 2 + km(YARD, OTHER) / 2
    assert legs_km([into, direct, onward], planned) == pytest.approx(expected)


def test_no_pinned_leg_is_no_measure():
    assert legs_km([]) is None
    assert legs_km([ticket(SITE, None, "5")]) is None  # a declared destination without a pin
    assert legs_km([ticket(SITE, FILL, "5", status=TicketStatus.void)]) is None
